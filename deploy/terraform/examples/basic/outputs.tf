output "websocket_url" {
  description = "Connect with {websocket_url}?token={JWT}."
  value       = module.switchboard.websocket_url
}

output "callback_url" {
  description = "The @connections endpoint."
  value       = module.switchboard.callback_url
}

output "table_name" {
  description = "The DynamoDB table."
  value       = module.switchboard.table_name
}

output "function_names" {
  description = "The function of each handler."
  value       = module.switchboard.function_names
}

output "log_groups" {
  description = "The log groups."
  value       = module.switchboard.log_groups
}
