// Package devstack assembles the whole chat system in one process, as
// `switchboard dev` runs it: the gateway (stage dev), the chat handlers
// called in-process, the embedded store, and the sweeper that stands in for
// DynamoDB's TTL and its stream (it deletes expired items and hands them to
// the cleanup handler as DynamoDB Streams REMOVE records).
package devstack
