# The WebSocket API: $connect (with the token authorizer), $disconnect,
# $default and one route per chat action, each an AWS_PROXY integration.

resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  tags                       = var.tags
}

# The REQUEST authorizer on $connect: the client's JWT in ?token=. Without
# it API Gateway answers 401 and does not call the function.
resource "aws_apigatewayv2_authorizer" "token" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-token"
  authorizer_type  = "REQUEST"
  authorizer_uri   = aws_lambda_function.fn["authorizer"].invoke_arn
  identity_sources = ["route.request.querystring.token"]
}

resource "aws_apigatewayv2_integration" "fn" {
  for_each = toset(["connect", "disconnect", "message"])

  api_id             = aws_apigatewayv2_api.this.id
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = aws_lambda_function.fn[each.key].invoke_arn
}

resource "aws_apigatewayv2_route" "connect" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$connect"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.token.id
  target             = "integrations/${aws_apigatewayv2_integration.fn["connect"].id}"
}

resource "aws_apigatewayv2_route" "route" {
  for_each = local.routes

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.fn[each.value].id}"
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = var.stage_name
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId         = "$context.requestId"
      extendedRequestId = "$context.extendedRequestId"
      requestTime       = "$context.requestTime"
      eventType         = "$context.eventType"
      routeKey          = "$context.routeKey"
      connectionId      = "$context.connectionId"
      status            = "$context.status"
      sourceIp          = "$context.identity.sourceIp"
      userAgent         = "$context.identity.userAgent"
      principalId       = "$context.authorizer.principalId"
      authorizerError   = "$context.authorizer.error"
      integrationStatus = "$context.integration.status"
      integrationError  = "$context.integration.error"
      latency           = "$context.integration.latency"
      error             = "$context.error.message"
    })
  }

  tags = var.tags

  # Deploy once the routes exist; access logs need the account's role.
  depends_on = [aws_apigatewayv2_route.connect, aws_apigatewayv2_route.route, aws_api_gateway_account.this]
}

# API Gateway may invoke each function, from this API only.
resource "aws_lambda_permission" "api" {
  for_each = {
    authorizer = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.token.id}"
    connect    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/$connect"
    disconnect = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/$disconnect"
    message    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/*"
  }

  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = each.value
}

# Optional: API Gateway's CloudWatch Logs role, one per account and region,
# without which WebSocket access logging is refused.
data "aws_partition" "current" {}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.create_api_gateway_account_role ? 1 : 0

  name = "${var.name}-apigateway-cloudwatch"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  count = var.create_api_gateway_account_role ? 1 : 0

  role       = aws_iam_role.apigateway_cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.create_api_gateway_account_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
}
