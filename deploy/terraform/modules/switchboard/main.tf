# The chat backend on AWS: one Lambda artifact (cmd/bootstrap) deployed as
# one function per handler, behind a WebSocket API, with a DynamoDB table
# whose stream feeds the cleanup function and an SQS queue that carries the
# broadcasts of large rooms to the fanout function (sqs.tf).
# deploy/consistency_test.go checks
# this module against the code (routes, handlers, environment, IAM, table).

locals {
  # internal/lambdaapp.Handlers: one function each; the function's handler
  # setting is the _HANDLER value.
  handlers = toset(["authorizer", "connect", "disconnect", "message", "cleanup", "fanout"])

  # The handlers that read and write the table and post to connections.
  data_handlers = toset(["connect", "disconnect", "message", "cleanup", "fanout"])

  # The handlers that broadcast, and so send the batches of a broadcast to
  # more than fanout_threshold connections to the fan-out queue: every data
  # handler, fanout too (it queues again the unreached rest of a batch, and
  # removing a gone connection announces it).
  broadcast_handlers = local.data_handlers

  # chat.Actions(): the route keys of the message function, besides $default.
  chat_actions = [
    "createRoom", "deleteMessage", "editMessage", "getOnlineUsers", "getRoomHistory", "heartbeat", "joinRoom",
    "leaveRoom", "listRooms", "ping", "sendMessage", "typingStart", "typingStop",
  ]

  # Every route but $connect (which has the authorizer), to its handler.
  routes = merge(
    { "$disconnect" = "disconnect", "$default" = "message" },
    { for action in local.chat_actions : action => "message" },
  )

  table_name = coalesce(var.table_name, var.name)

  # The @connections endpoint the handlers post to (CALLBACK_URL). Built
  # from the API, not the stage, which depends on the functions.
  callback_url = "${replace(aws_apigatewayv2_api.this.api_endpoint, "wss://", "https://")}/${var.stage_name}"

  # Whether a secret is set is not itself secret.
  use_jwt_secret = nonsensitive(var.jwt_secret != null)

  # The environment of each function: exactly what internal/lambdaapp reads
  # for its handler (_HANDLER comes from the handler setting).
  data_env = {
    TABLE_NAME   = aws_dynamodb_table.this.name
    CALLBACK_URL = local.callback_url
  }
  fanout_env = {
    FANOUT_QUEUE_URL  = aws_sqs_queue.fanout.url
    FANOUT_THRESHOLD  = tostring(var.fanout_threshold)
    FANOUT_BATCH_SIZE = tostring(var.fanout_batch_size)
  }
  ttl_env     = var.connection_ttl == null ? {} : { CONNECTION_TTL = var.connection_ttl }
  content_env = var.max_content_bytes == null ? {} : { MAX_CONTENT_BYTES = tostring(var.max_content_bytes) }
  typing_env  = var.typing_interval == null ? {} : { TYPING_INTERVAL = var.typing_interval }
  environment = {
    authorizer = merge(
      local.use_jwt_secret ? { JWT_SECRET = var.jwt_secret } : {},
      { for k, v in {
        JWKS_URL      = var.jwks_url
        JWT_ISSUER    = var.jwt_issuer
        JWT_AUDIENCE  = var.jwt_audience
        JWT_TOKEN_USE = var.jwt_token_use
      } : k => v if v != null },
    )
    connect    = merge(local.data_env, local.fanout_env, local.ttl_env)
    disconnect = merge(local.data_env, local.fanout_env)
    message    = merge(local.data_env, local.fanout_env, local.ttl_env, local.content_env, local.typing_env)
    cleanup    = merge(local.data_env, local.fanout_env)
    fanout     = merge(local.data_env, local.fanout_env)
  }

  timeouts = {
    authorizer = var.timeout
    connect    = var.timeout
    disconnect = var.timeout
    message    = var.timeout
    cleanup    = var.cleanup_timeout
    fanout     = var.fanout_timeout
  }
}

resource "aws_cloudwatch_log_group" "fn" {
  for_each = local.handlers

  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "fn" {
  for_each = local.handlers

  function_name    = "${var.name}-${each.key}"
  role             = aws_iam_role.fn[each.key].arn
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  runtime          = "provided.al2023"
  architectures    = [var.architecture]
  handler          = each.key
  memory_size      = var.memory_size
  timeout          = local.timeouts[each.key]

  environment {
    variables = local.environment[each.key]
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = each.key != "authorizer" || local.use_jwt_secret || var.jwks_url != null
      error_message = "Set jwt_secret (HS256) or jwks_url (Cognito): the authorizer needs a way to check tokens."
    }
  }

  # The log group first, so that Lambda does not create it without retention.
  depends_on = [aws_cloudwatch_log_group.fn, aws_iam_role_policy.logs]
}

# TTL deletions of connections and memberships reach the cleanup function,
# which announces user_left and offline for $disconnects that were missed.
# Its own deletions (REMOVE records by the functions), and the copies' and
# typing slots' TTL deletions, are filtered out before invoking it.
resource "aws_lambda_event_source_mapping" "cleanup" {
  event_source_arn               = aws_dynamodb_table.this.stream_arn
  function_name                  = aws_lambda_function.fn["cleanup"].arn
  starting_position              = "LATEST"
  batch_size                     = 100
  maximum_retry_attempts         = 5
  bisect_batch_on_function_error = true

  filter_criteria {
    filter {
      pattern = jsonencode({
        eventName    = ["REMOVE"]
        userIdentity = { type = ["Service"], principalId = ["dynamodb.amazonaws.com"] }
        dynamodb     = { OldImage = { type = { S = ["CONNECTION", "MEMBERSHIP"] } } }
      })
    }
  }

  depends_on = [aws_iam_role_policy.stream]
}
