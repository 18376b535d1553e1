# Large-room fan-out: a broadcast to more than fanout_threshold connections
# is split into batches of fanout_batch_size connection ids, one SQS message
# each (chat/fanout.go), which the fanout function posts. A batch that fails
# is delivered again; after fanout_max_receive_count receives SQS moves it to
# the dead-letter queue, whose alarm fires. Redrive it with
# `aws sqs start-message-move-task` (docs/deploy.md).

locals {
  # Deliveries of a batch before SQS moves it to the dead-letter queue: the
  # same as queue.Local's MaxReceiveCount default, so that `switchboard dev`
  # retries as AWS does (deploy/code_test.go derives it from the code).
  fanout_max_receive_count = 3

  # AWS: at least 6 times the function's timeout for a Lambda event source.
  fanout_visibility_timeout = 6 * var.fanout_timeout

  # Records per invocation (each up to fanout_batch_size posts, all at once).
  fanout_event_batch_size = 10

  # Batches wait at most 4 days; the dead-letter queue keeps them 14 days,
  # longer, because a moved message keeps its original enqueue time.
  fanout_retention     = 4 * 24 * 3600
  fanout_dlq_retention = 14 * 24 * 3600
}

resource "aws_sqs_queue" "fanout_dlq" {
  name                      = "${var.name}-fanout-dlq"
  message_retention_seconds = local.fanout_dlq_retention
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "fanout" {
  name                       = "${var.name}-fanout"
  visibility_timeout_seconds = local.fanout_visibility_timeout
  message_retention_seconds  = local.fanout_retention
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.fanout_dlq.arn
    maxReceiveCount     = local.fanout_max_receive_count
  })
  tags = var.tags
}

# chat.Fanout reports the batches that failed (BatchItemFailures); without
# ReportBatchItemFailures Lambda would ignore that and delete them.
resource "aws_lambda_event_source_mapping" "fanout" {
  event_source_arn        = aws_sqs_queue.fanout.arn
  function_name           = aws_lambda_function.fn["fanout"].arn
  batch_size              = local.fanout_event_batch_size
  function_response_types = ["ReportBatchItemFailures"]

  depends_on = [aws_iam_role_policy.fanout_receive]
}

# A batch in the dead-letter queue is a broadcast some members of a large
# room did not get.
resource "aws_cloudwatch_metric_alarm" "fanout_dlq" {
  alarm_name          = "${var.name}-fanout-dlq"
  alarm_description   = "Fan-out batches failed ${local.fanout_max_receive_count} times and are in ${aws_sqs_queue.fanout_dlq.name}: some members of a large room missed a broadcast. Look at the fanout function's log, then redrive (docs/deploy.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.fanout_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
  ok_actions          = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
  tags                = var.tags
}
