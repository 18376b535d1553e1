variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "switchboard"
}

variable "stage_name" {
  description = "The WebSocket API stage."
  type        = string
  default     = "prod"
}

variable "architecture" {
  description = "arm64 (dist/lambda/bootstrap-arm64.zip) or x86_64 (dist/lambda/bootstrap-amd64.zip)."
  type        = string
  default     = "arm64"
}

variable "jwt_secret" {
  description = "HS256 secret of the client tokens (at least 32 bytes); or use jwks_url."
  type        = string
  default     = null
  sensitive   = true
}

variable "jwks_url" {
  description = "JWK Set URL of the client tokens (Cognito: https://cognito-idp.{region}.amazonaws.com/{userPoolId}/.well-known/jwks.json)."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "Required iss claim (Cognito: https://cognito-idp.{region}.amazonaws.com/{userPoolId})."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Required audience (Cognito: the app client id)."
  type        = string
  default     = null
}

variable "jwt_token_use" {
  description = "Required token_use claim: id or access (Cognito)."
  type        = string
  default     = null
}

variable "create_api_gateway_account_role" {
  description = "Set API Gateway's CloudWatch Logs role for the region (needed once per account and region for access logs; overwrites an existing one)."
  type        = bool
  default     = false
}

variable "table_deletion_protection" {
  description = "Deletion protection of the table."
  type        = bool
  default     = false
}

variable "alarm_topic_arn" {
  description = "SNS topic the fan-out dead-letter queue's alarm notifies (null: no notifications)."
  type        = string
  default     = null
}
