// Package chat is the chat backend of the seed documents as Lambda-style
// handlers: a REQUEST authorizer, $connect, $disconnect, the action router
// for messages, and the cleanup handler for expired items (DynamoDB Streams
// REMOVE records). They take aws-lambda-go event types, keep no state
// between events — everything lives in a store.Store, but for the rate
// limits' token buckets, in memory and per process — and reach clients
// only through a push.Pusher (the @connections API), so the same code runs
// in `switchboard dev` and on AWS Lambda.
//
// docs/protocol.md describes what clients send and receive; package
// chat/protocol defines it (the wire types, action names and error codes),
// and Config's Default* constants are the defaults it states.
package chat
