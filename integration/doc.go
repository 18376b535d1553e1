// Package integration connects gateway routes and authorizers to handlers
// that live outside the gateway's process. Such handlers speak JSON: they
// take the event API Gateway would send a Lambda function and return the
// Lambda proxy response (or, for an authorizer, the policy). An Invoker moves
// those bytes — HTTP, and Lambda functions through the Runtime API (integration/lambda) — and Route and
// Authorizer turn any Invoker into the gateway's interfaces.
package integration
