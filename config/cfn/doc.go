// Package cfn reads AWS CloudFormation and AWS SAM templates (YAML with
// the short intrinsic tags, or JSON such as cdk synth writes) and evaluates
// them for a local run: parameters and their overrides, pseudo parameters,
// Rules, Conditions, Mappings, the intrinsic functions, SAM's Globals and
// its function events, and the physical names CloudFormation would give.
//
// The result, a Stack, holds what a local WebSocket API needs — its
// functions (with their local code paths), routes, integrations,
// authorizer, stages, DynamoDB tables (as CreateTable calls), SQS queues
// and event sources — and lists every other resource as skipped.
// Parse checks a template's structure (and finds dependency cycles);
// Resolve evaluates it. Neither starts anything or reads code: package
// config checks the code and makes the runnable form. docs/templates.md
// lists what is supported.
package cfn
