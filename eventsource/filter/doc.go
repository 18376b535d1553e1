// Package filter is Lambda's event filtering (an event source mapping's
// FilterCriteria) for the local event source mappings: Compile checks the
// patterns of FilterCriteria.Filters, Match says whether a record, as the
// JSON Lambda would put in the function's event, satisfies one of them.
//
// # Patterns
//
// A pattern is a JSON object in the event pattern language of Amazon
// EventBridge, which Lambda uses. Its keys name fields of the record, its
// nested objects name nested fields, and each field ends in a list of
// rules:
//
//	{"eventName": ["REMOVE"],
//	 "userIdentity": {"type": ["Service"]},
//	 "dynamodb": {"OldImage": {"type": {"S": ["CONNECTION", "MEMBERSHIP"]}}}}
//
// A record matches a pattern when every field of the pattern matches (AND
// across keys) and a field matches when one of its rules matches one of
// the field's values (OR across the list). The rules:
//
//   - "x", 12, true, null: equal to that value, of that JSON type. Strings
//     are compared byte for byte; numbers by their text, as Lambda does
//     (300, 300.0 and 3e2 are different). "" is the empty string; null is
//     a JSON null, not a missing field.
//   - {"prefix": "x"}, {"suffix": "x"}: strings that begin or end with x;
//     {"prefix": {"equals-ignore-case": "x"}} and the same for suffix
//     ignore case.
//   - {"equals-ignore-case": "x"}: strings equal to x, ignoring case.
//   - {"wildcard": "a*b"}: strings matching the glob; * is any run of
//     characters, \* a star and \\ a backslash.
//   - {"anything-but": V}: any value except V, where V is a string, a
//     number, a list of strings or numbers, or {"prefix" | "suffix" |
//     "equals-ignore-case" | "wildcard": string or list of strings}. The
//     field must exist.
//   - {"numeric": ["=", 5]}, {"numeric": [">", 0, "<=", 5]}: JSON numbers
//     compared with =, <, <=, > or >=; a range has one lower bound (>, >=)
//     and one upper bound (<, <=). Numbers in strings (DynamoDB's
//     {"N": "5"}) are strings and do not match.
//   - {"exists": true}, {"exists": false}: the field has a value (or has
//     none). Only leaf values count: a field whose value is an object (a
//     DynamoDB attribute such as {"S": "x"}) does not exist for this rule;
//     test its leaf instead ({"S": [{"exists": true}]}).
//   - {"cidr": "10.0.0.0/24"}: strings that are IP addresses in the prefix.
//   - "$or": [{...}, {...}] as a key: one of the sub-patterns matches.
//
// A field whose value in the record is a list matches when one of the
// list's elements matches; nested objects inside a list are matched
// element by element (the fields of one sub-pattern must all match in the
// same element).
//
// A bad pattern is an error from Compile that names the filter, the field
// and what is wrong: a pattern that is not a JSON object, a field whose
// value is neither an object nor a list (Lambda refuses "eventName":
// "REMOVE"; it wants ["REMOVE"]), an empty list, an unknown operator, an
// operator of the wrong type, a numeric range that is not one.
//
// # Lambda's specifics
//
// A mapping has up to 5 filters (10 with a quota increase; Compile refuses
// more than 10), each pattern at most 4096 characters; a record goes to
// the function when it matches one of them (OR across filters), and
// without filters every record does. What happens to the others depends
// on the source: a stream mapping moves past them (they are never
// delivered), an SQS mapping deletes them from the queue.
//
// For SQS the record's body is a string; a pattern whose "body" is an
// object matches the body parsed as JSON, and one whose "body" is a list
// of rules matches the body as a plain string. As on Lambda, a mismatch
// (a JSON body and a plain-string pattern, or the reverse) drops the
// message. Locally a body counts as JSON when it is a JSON object or
// array; a body such as 42 or "x" (valid JSON, but no fields to filter
// on) is matched as a plain string.
//
// For DynamoDB streams the pattern is matched against the record as
// Lambda delivers it: eventName, eventSource, awsRegion, userIdentity
// (type and principalId of a TTL deletion), and dynamodb with Keys,
// NewImage and OldImage in the attribute-value shape ({"S": "x"},
// {"N": "5"}, {"M": {...}}).
package filter
