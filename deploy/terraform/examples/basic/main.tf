# A deployment of the chat backend: the switchboard module with the artifact
# of `make lambda`. From this directory:
#
#   terraform init
#   terraform apply -var 'jwt_secret=...'              # HS256 tokens
#   terraform apply -var 'jwks_url=...' -var 'jwt_issuer=...' -var 'jwt_audience=...'   # Cognito
#
# docs/deploy.md has the whole procedure.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 7.0.0"
    }
  }
}

provider "aws" {
  region = var.region
}

locals {
  # scripts/build-lambda names the zips by Go's architecture names.
  zip_arch = { arm64 = "arm64", x86_64 = "amd64" }
}

module "switchboard" {
  source = "../../modules/switchboard"

  name         = var.name
  stage_name   = var.stage_name
  architecture = var.architecture
  lambda_zip   = "${path.module}/../../../../dist/lambda/bootstrap-${local.zip_arch[var.architecture]}.zip"

  jwt_secret    = var.jwt_secret
  jwks_url      = var.jwks_url
  jwt_issuer    = var.jwt_issuer
  jwt_audience  = var.jwt_audience
  jwt_token_use = var.jwt_token_use

  create_api_gateway_account_role = var.create_api_gateway_account_role
  table_deletion_protection       = var.table_deletion_protection
  alarm_topic_arn                 = var.alarm_topic_arn
}
