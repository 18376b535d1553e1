// Package eventsource runs, on any machine, what a SAM or CloudFormation
// template declares around DynamoDB: the tables (EnsureTable) and the
// Lambda event source mappings that feed a table's stream to a function
// (DynamoDBStream), against DynamoDB or DynamoDB Local, with the function
// behind an integration.Invoker (a Lambda runtime, an HTTP endpoint, or a
// Go Handler in process).
//
// # The mapping's contract
//
// A DynamoDBStream reads every shard of the table's stream with
// GetRecords and invokes the function with events.DynamoDBEvent JSON, as
// Lambda does: records carry eventID, eventName (INSERT, MODIFY,
// REMOVE), eventVersion "1.1", eventSource "aws:dynamodb", awsRegion,
// eventSourceARN (the stream's ARN), userIdentity when there is one, and
// dynamodb{ApproximateCreationDateTime, Keys, NewImage, OldImage,
// SequenceNumber, SizeBytes, StreamViewType} with attribute values in
// Lambda's shape ({"S": ...}, {"N": "..."}, {"B": base64}, {"SS": [...]},
// {"M": {...}}, {"L": [...]}, {"NULL": true}, {"BOOL": ...}).
//
//   - Ordering: the records of a shard are delivered in stream order, one
//     invocation at a time per shard; a shard's children are read only
//     once it has been read to its end, so the changes of one item arrive
//     in the order they were made. Shards are read side by side.
//   - Batching: a batch holds up to BatchSize records (default 100) and
//     an event of at most 6 MiB; the function is invoked as soon as a
//     shard has records (no batching window).
//   - At least once: a batch is retried until the function succeeds, so a
//     record may be delivered more than once (after a failure, or a
//     partial one); handlers must be idempotent, as on AWS.
//   - Failures: a function error (a *integration.FunctionError, or
//     running out of Timeout) retries the same records after RetryDelay,
//     doubling, up to MaximumRetryAttempts retries (default -1: without
//     end, as on AWS, which blocks the shard behind a record that always
//     fails). BisectBatchOnFunctionError splits a failed batch in halves
//     retried separately, without counting a retry. With
//     ReportBatchItemFailures the answer {"batchItemFailures":
//     [{"itemIdentifier": SequenceNumber}]} checkpoints before the lowest
//     sequence number named: the records before it are done, the rest are
//     retried (a partial failure counts as a retry); an empty or null
//     itemIdentifier, or one not in the batch, fails the whole batch. A
//     failure is logged at WARN with the function and the error; records
//     whose retries are exhausted are logged at ERROR and discarded, and
//     the shard goes on. An error that is not a function error (the
//     function could not be reached) is retried without counting, as
//     Lambda retries throttling. Nothing stops a shard's poller but Close.
//   - Filtering: with Filters (FilterCriteria, see package filter), a
//     record that matches none of the patterns is passed over before
//     batching, as on Lambda: it is never delivered, it does not count
//     against BatchSize, and the shard is read past it, so records that
//     all filter out invoke nothing. Records are matched as delivered
//     (with the Service userIdentity of TTL deletions), and counted in
//     StreamStats.Filtered.
//   - Positions: Latest delivers what is written after Start returns;
//     TrimHorizon every record the stream holds. Shards found later are
//     read from their start. No checkpoint outlives the mapping: after a
//     restart, StartingPosition applies again.
//
// Not emulated: on-failure destinations (discarded records are only
// logged), MaximumRecordAgeInSeconds, MaximumBatchingWindowInSeconds,
// ParallelizationFactor, tumbling windows, and the persistence of
// checkpoints across restarts.
//
// # Time to Live
//
// On AWS, DynamoDB's TTL process deletes expired items and the stream
// carries a REMOVE record with userIdentity {"type": "Service",
// "principalId": "dynamodb.amazonaws.com"}, which is how a function (such
// as the chat backend's cleanup handler) tells expiry from a deletion
// made by the application.
//
// DynamoDB Local 3.3 deletes expired items itself, about a second after
// they expire (tried: TTL enabled, items expired an hour ago, a second ago
// and twenty seconds ahead; each was gone within a second of its expiry),
// but its stream records of those deletions carry eventName
// "UNKNOWN_TO_SDK_VERSION" and no userIdentity. A DynamoDBStream delivers
// such records as AWS writes them: eventName REMOVE, with the Service
// identity. But it deletes only items that are in every global secondary
// index of their table: an expired item without the key attributes of
// one of the table's GSIs (an item a sparse index leaves out) stays for
// ever (tried: a table with GSIs, items with the keys of all, of some and
// of none of them; only the first were deleted). A table with GSIs needs
// a TTLSweeper on DynamoDB Local too.
//
// For endpoints that do not expire items, or to expire them by another
// clock (tests), a TTLSweeper deletes expired items itself, and the
// mappings given it mark the REMOVE records of its own deletions (matched
// by key and exact old image, each deletion once per mapping) with the
// Service identity. A REMOVE made by anyone else is never marked, even if
// the item had expired: the mark does not guess from the old image's TTL
// attribute, which would turn the application's own deletions of expired
// items into TTL deletions. The sweeper's memory of its deletions is the
// process's: after a restart, a mapping reading older records with
// TrimHorizon delivers them as ordinary REMOVE records.
//
// # Other DynamoDB Local 3.3 quirks the mapping mends
//
//   - Its stream sequence numbers are shared by all tables, and an
//     iterator taken on a shard without records (LATEST or TRIM_HORIZON)
//     is refused as trimmed once another table wrote before the shard's
//     first record; the mapping then reads the shard from its first record
//     (all of which came after the iterator).
//   - It writes an empty map attribute as {} instead of {"M": {}}, which
//     the SDK's decoder turns into the value of the attribute decoded
//     before it; GetRecords responses are mended before decoding.
//   - It writes awsRegion "ddblocal" (DynamoDBStreamOptions.Region
//     replaces it) and rounds ApproximateCreationDateTime down to the
//     minute.
package eventsource
