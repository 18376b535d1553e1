# One role per function, each with only what its handler does.

locals {
  # The DynamoDB actions of store/dynamo (docs/store.md; TestOperations):
  # GetItem, Query, PutItem, UpdateItem, BatchWriteItem, and
  # TransactWriteItems of Put, Update, Delete and ConditionCheck items,
  # which IAM authorizes as PutItem, UpdateItem, DeleteItem and
  # ConditionCheckItem. No Scan: only the sweeper and the dead
  # cluster node clean-up, which are not used on AWS, scan.
  table_actions = [
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
  ]
  # The indexes are only queried.
  index_names = ["GSI1", "GSI2"]
}

resource "aws_iam_role" "fn" {
  for_each = local.handlers

  name = "${var.name}-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "logs" {
  for_each = local.handlers

  name = "logs"
  role = aws_iam_role.fn[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.fn[each.key].arn}:*"
    }]
  })
}

# The table, its indexes, and posting to this API's connections
# (push.SDK only calls PostToConnection: POST @connections/{id}).
resource "aws_iam_role_policy" "data" {
  for_each = local.data_handlers

  name = "table-and-connections"
  role = aws_iam_role.fn[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Table"
        Effect   = "Allow"
        Action   = local.table_actions
        Resource = aws_dynamodb_table.this.arn
      },
      {
        Sid      = "Indexes"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [for index in local.index_names : "${aws_dynamodb_table.this.arn}/index/${index}"]
      },
      {
        Sid      = "Connections"
        Effect   = "Allow"
        Action   = ["execute-api:ManageConnections"]
        Resource = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/POST/@connections/*"
      },
    ]
  })
}

# The cleanup function's event source mapping reads the table's stream.
resource "aws_iam_role_policy" "stream" {
  name = "table-stream"
  role = aws_iam_role.fn["cleanup"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Stream"
        Effect   = "Allow"
        Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
        Resource = aws_dynamodb_table.this.stream_arn
      },
      {
        Sid      = "ListStreams"
        Effect   = "Allow"
        Action   = ["dynamodb:ListStreams"]
        Resource = "${aws_dynamodb_table.this.arn}/stream/*"
      },
    ]
  })
}

# The broadcasting functions queue the batches of large broadcasts
# (queue.SQS only calls SendMessageBatch, authorized as sqs:SendMessage).
# Nothing may touch the dead-letter queue: SQS itself moves messages there.
resource "aws_iam_role_policy" "fanout_send" {
  for_each = local.broadcast_handlers

  name = "fanout-queue-send"
  role = aws_iam_role.fn[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "SendBatches"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = aws_sqs_queue.fanout.arn
    }]
  })
}

# The fanout function's event source mapping polls the queue with the
# function's role.
resource "aws_iam_role_policy" "fanout_receive" {
  name = "fanout-queue-receive"
  role = aws_iam_role.fn["fanout"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReceiveBatches"
      Effect   = "Allow"
      Action   = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      Resource = aws_sqs_queue.fanout.arn
    }]
  })
}
