output "websocket_url" {
  description = "What clients connect to, with ?token={JWT}."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "callback_url" {
  description = "The @connections endpoint (the functions' CALLBACK_URL)."
  value       = local.callback_url
}

output "api_id" {
  description = "The WebSocket API's id."
  value       = aws_apigatewayv2_api.this.id
}

output "stage_name" {
  description = "The stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "table_name" {
  description = "The DynamoDB table (the functions' TABLE_NAME)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "The DynamoDB table's ARN."
  value       = aws_dynamodb_table.this.arn
}

output "function_names" {
  description = "The function of each handler."
  value       = { for handler, fn in aws_lambda_function.fn : handler => fn.function_name }
}

output "log_groups" {
  description = "The log group of each function, and of the stage's access log (access)."
  value       = merge({ for handler, lg in aws_cloudwatch_log_group.fn : handler => lg.name }, { access = aws_cloudwatch_log_group.access.name })
}

output "fanout_queue_url" {
  description = "The fan-out queue (the functions' FANOUT_QUEUE_URL)."
  value       = aws_sqs_queue.fanout.url
}

output "fanout_queue_arn" {
  description = "The fan-out queue's ARN."
  value       = aws_sqs_queue.fanout.arn
}

output "fanout_dlq_url" {
  description = "The fan-out dead-letter queue: batches that failed every delivery."
  value       = aws_sqs_queue.fanout_dlq.url
}

output "fanout_dlq_arn" {
  description = "The fan-out dead-letter queue's ARN (the source of aws sqs start-message-move-task)."
  value       = aws_sqs_queue.fanout_dlq.arn
}

output "fanout_dlq_alarm" {
  description = "The CloudWatch alarm on the dead-letter queue."
  value       = aws_cloudwatch_metric_alarm.fanout_dlq.alarm_name
}
