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

output "fanout_queue_url" {
  description = "The fan-out queue."
  value       = module.switchboard.fanout_queue_url
}

output "fanout_queue_arn" {
  description = "The fan-out queue's ARN."
  value       = module.switchboard.fanout_queue_arn
}

output "fanout_dlq_url" {
  description = "The fan-out dead-letter queue."
  value       = module.switchboard.fanout_dlq_url
}

output "fanout_dlq_arn" {
  description = "The fan-out dead-letter queue's ARN (redrive: aws sqs start-message-move-task --source-arn ...)."
  value       = module.switchboard.fanout_dlq_arn
}
