variable "name" {
  description = "Prefix of every resource name: the API, the functions ({name}-{handler}), their roles and log groups, and the table unless table_name is set."
  type        = string
  default     = "switchboard"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name: 1 to 40 letters, digits, '-' or '_'."
  }
}

variable "lambda_zip" {
  description = "The artifact of scripts/build-lambda (make lambda) for var.architecture: dist/lambda/bootstrap-arm64.zip for arm64, dist/lambda/bootstrap-amd64.zip for x86_64."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the functions: arm64 or x86_64 (lambda_zip must be built for it)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture: arm64 or x86_64."
  }
}

variable "stage_name" {
  description = "The WebSocket API stage: clients connect to wss://{api}.execute-api.{region}.amazonaws.com/{stage_name}."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name)) && var.stage_name != "$default"
    error_message = "stage_name: letters, digits, '-' and '_'."
  }
}

variable "table_name" {
  description = "The DynamoDB table's name (default: var.name)."
  type        = string
  default     = null
}

# --- Client tokens (the authorizer). Set jwt_secret, or jwks_url (Cognito), or both.

variable "jwt_secret" {
  description = "HS256 secret (at least 32 bytes) the authorizer accepts tokens signed with (JWT_SECRET). It is stored in the function's configuration and in the Terraform state."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.jwt_secret == null || length(coalesce(var.jwt_secret, "-")) >= 32
    error_message = "jwt_secret: at least 32 bytes (or null to use jwks_url only)."
  }
}

variable "jwks_url" {
  description = "JWK Set URL whose RS256/ES256 keys the authorizer accepts (JWKS_URL), e.g. https://cognito-idp.{region}.amazonaws.com/{userPoolId}/.well-known/jwks.json."
  type        = string
  default     = null

  validation {
    condition     = var.jwks_url == null || can(regex("^https://", coalesce(var.jwks_url, "-")))
    error_message = "jwks_url: an https:// URL."
  }
}

variable "jwt_issuer" {
  description = "Required iss claim (JWT_ISSUER), e.g. https://cognito-idp.{region}.amazonaws.com/{userPoolId}."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Required audience (JWT_AUDIENCE): in aud, or equal to client_id (Cognito access tokens), e.g. the app client id."
  type        = string
  default     = null
}

variable "jwt_token_use" {
  description = "Required token_use claim (JWT_TOKEN_USE): id or access (Cognito)."
  type        = string
  default     = null

  validation {
    condition     = var.jwt_token_use == null || contains(["id", "access"], coalesce(var.jwt_token_use, "-"))
    error_message = "jwt_token_use: id or access."
  }
}

# --- Chat settings (unset: the handlers' defaults).

variable "max_content_bytes" {
  description = "Message content limit in bytes (MAX_CONTENT_BYTES, message function; default 4096)."
  type        = number
  default     = null

  validation {
    condition     = var.max_content_bytes == null || (coalesce(var.max_content_bytes, 1) >= 1 && coalesce(var.max_content_bytes, 1) <= 102400)
    error_message = "max_content_bytes: between 1 and 102400."
  }
}

variable "connection_ttl" {
  description = "How long a connection lives without a heartbeat, as a Go duration of at least 1m such as 10m (CONNECTION_TTL, connect and message functions; default 10m)."
  type        = string
  default     = null

  validation {
    condition     = var.connection_ttl == null || can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", coalesce(var.connection_ttl, "-")))
    error_message = "connection_ttl: a Go duration such as 10m or 1h30m."
  }
}

variable "typing_interval" {
  description = "At most one typingStart per connection per interval, as a Go duration up to 1m such as 250ms (TYPING_INTERVAL, message function; default 250ms)."
  type        = string
  default     = null

  validation {
    condition     = var.typing_interval == null || can(regex("^([0-9]+m)?([0-9]+s)?([0-9]+ms)?$", coalesce(var.typing_interval, "-")))
    error_message = "typing_interval: a Go duration such as 250ms or 1s."
  }
}

# --- Large-room fan-out (sqs.tf).

variable "fanout_threshold" {
  description = "A broadcast to more than this many connections is queued to the fanout function in batches instead of posted by the function that makes it (FANOUT_THRESHOLD)."
  type        = number
  default     = 500

  validation {
    condition     = var.fanout_threshold >= 1 && var.fanout_threshold <= 10000 && floor(var.fanout_threshold) == var.fanout_threshold
    error_message = "fanout_threshold: a whole number between 1 and 10000."
  }
}

variable "fanout_batch_size" {
  description = "Connections per queued batch, one SQS message each (FANOUT_BATCH_SIZE). A message holds at most 256 KiB: the connection ids (about 20 bytes each) and the broadcast."
  type        = number
  default     = 500

  validation {
    condition     = var.fanout_batch_size >= 1 && var.fanout_batch_size <= 1000 && floor(var.fanout_batch_size) == var.fanout_batch_size
    error_message = "fanout_batch_size: a whole number between 1 and 1000 (the ids and a 128 KiB broadcast fit one 256 KiB SQS message)."
  }
}

variable "fanout_timeout" {
  description = "Timeout of the fanout function (up to 10 batches per invocation), in seconds. The queue's visibility timeout is 6 times this, as AWS recommends for a Lambda event source."
  type        = number
  default     = 60

  validation {
    condition     = var.fanout_timeout >= 1 && var.fanout_timeout <= 900
    error_message = "fanout_timeout: between 1 and 900 seconds (the queue's visibility timeout, 6 times it, is at most 12 hours)."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic the dead-letter queue's alarm notifies (ALARM and OK). Null: the alarm is made, without notifications."
  type        = string
  default     = null
}

# --- Functions, API, logs, table.

variable "memory_size" {
  description = "Memory of each function, in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout of the API Gateway functions (authorizer, connect, disconnect, message), in seconds; API Gateway itself waits at most 29 s."
  type        = number
  default     = 10
}

variable "cleanup_timeout" {
  description = "Timeout of the cleanup function (a batch of stream records), in seconds."
  type        = number
  default     = 60
}

variable "log_retention_days" {
  description = "Retention of every log group: the functions' and the stage's access log."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days: one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second of each route of the stage (default route throttling)."
  type        = number
  default     = 1000
}

variable "throttling_burst_limit" {
  description = "Burst of each route of the stage (default route throttling)."
  type        = number
  default     = 500
}

variable "create_api_gateway_account_role" {
  description = "Set API Gateway's account-wide (per region) CloudWatch Logs role, which WebSocket access logs need. Leave false if the account already has one: there is one per region, and this overwrites it."
  type        = bool
  default     = false
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the table."
  type        = bool
  default     = true
}

variable "table_deletion_protection" {
  description = "Deletion protection of the table (turn it off before destroying)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags of every resource that takes them."
  type        = map(string)
  default     = {}
}
