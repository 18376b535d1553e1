// Package gateway is Switchboard's WebSocket engine: it reproduces the
// behaviour of an AWS API Gateway WebSocket API (the $connect authorizer and
// route, route selection, $default and custom routes, route responses,
// $disconnect, limits, and the @connections management API) so that handlers
// written for AWS run against it unchanged.
//
// A Server is an http.Handler. It serves the WebSocket endpoint at
// /{stage} and the management API at /{stage}/@connections/{id}; everything
// else goes to Options.NotFound. Handlers are reached through the small
// Integration and Authorizer interfaces, so an in-process Go function, an
// HTTP endpoint or a Lambda runtime can sit behind any route.
//
// How a message flows: the connection's reader goroutine reads a frame
// (an idle connection has no buffer, and on Linux no goroutine either: its
// reader is parked and the server's poller starts one when bytes arrive), checks the limits, waits until
// the connection's inbox (bounded in messages and in bytes) has room, and
// queues the message for the connection's dispatcher; the dispatcher
// evaluates the route selection expression, builds the MESSAGE event and
// invokes the route's integration. Anything sent back (a route response, an
// error frame, or a management-API post) is built into a frame once and
// appended to the connection's byte-bounded send queue, which a short-lived
// writer goroutine drains with one write (vectored when several frames wait).
// A broadcast (PostFrame) writes its one frame to the recipients with
// nothing queued from a few goroutines, without waiting on any socket.
//
// Counters of all this (connections, closes by cause, messages and bytes
// each way, management posts) are served at /metrics by WithMetrics.
//
// An inspector (package gateway/inspector) watches it through
// InspectSubscribe, InspectConnections and Invocation: while one
// watches, connects, frames, invocations and closes are recorded in a
// bounded ring (inspect.go) and handed to the watchers without waiting;
// while none does, each hook costs one atomic load.
package gateway
