// Package routeselect implements Amazon API Gateway WebSocket route
// selection expressions.
//
// A route selection expression tells the gateway which value of an incoming
// message to use as the route key. Three forms are accepted:
//
//	$request.body.action                       one unbraced variable: the whole expression
//	${request.body.action}                     one braced variable
//	${request.body.service}/${request.body.op} a template: braced variables and static text
//
// Only request.body variables exist for WebSocket APIs; anything else
// ($request.header.x, ${context.x}, ...) is rejected by [Parse]. The part
// after request.body is a dot-separated path of JSON object keys. A key may
// contain any character except '.', '}' and white space; empty keys are
// rejected. An unbraced variable must make up the whole expression: in a
// template every '$' must start a "${...}" variable. An expression without
// any variable (static text only) is rejected, because the gateway requires
// the route key to be selected from the message body.
//
// # Selection
//
// [Expr.Select] validates the message body as one complete JSON document
// (RFC 8259, UTF-8, at most 10000 levels of nesting, the same limit as
// encoding/json) in a single pass and captures the values found at the
// expression's paths. If the body is not valid JSON, ok is false and the
// gateway routes the message to $default. Otherwise each variable is
// replaced by its value, converted to text as follows:
//
//   - a missing key, or a path through an array or a scalar: "" (empty)
//   - a string: its decoded text (escapes such as \u00e9 are decoded; a lone
//     UTF-16 surrogate becomes U+FFFD, as with encoding/json)
//   - a number: its literal text exactly as written (1, 1.50, -2e3)
//   - true, false: "true", "false"
//   - null: "" at the selected position; "null" inside an array or object
//   - an array: "[v1, v2]" in the style of Java's List.toString
//   - an object: "{k1=v1, k2=v2}" in the style of Java's Map.toString, in
//     document order
//
// Inside arrays and objects the same rules apply recursively (strings are not
// quoted). When an object repeats a key the last value wins, as with
// encoding/json; when such an object is itself converted to text, the key
// keeps the position of its first occurrence (like a Java LinkedHashMap).
//
// An [Expr] is immutable and safe for concurrent use. When the selected
// values are strings, numbers or booleans, Select allocates nothing but the
// returned string (and nothing at all when the result is empty).
package routeselect
