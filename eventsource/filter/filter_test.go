package filter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// ddbRecord is a DynamoDB stream record as Lambda delivers it (the JSON
// of aws-lambda-go's type, which is Lambda's).
func ddbRecord(t testing.TB, name string, keys, newImage, oldImage map[string]events.DynamoDBAttributeValue, identity *events.DynamoDBUserIdentity) []byte {
	t.Helper()
	b, err := json.Marshal(events.DynamoDBEventRecord{
		AWSRegion: "us-east-1", EventID: "1", EventName: name, EventSource: "aws:dynamodb", EventVersion: "1.1",
		EventSourceArn: "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2024",
		UserIdentity:   identity,
		Change: events.DynamoDBStreamRecord{
			Keys: keys, NewImage: newImage, OldImage: oldImage, SequenceNumber: "111", SizeBytes: 26,
			StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sqsRecord(t testing.TB, body string) []byte {
	t.Helper()
	b, err := json.Marshal(events.SQSMessage{
		MessageId: "059f36b4-87a3-44ab-83d2-661975830a7d", ReceiptHandle: "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a", Body: body,
		Attributes: map[string]string{
			"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183", "SenderId": "AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp": "1545082649185",
		},
		MessageAttributes: map[string]events.SQSMessageAttribute{},
		Md5OfBody:         "e4e68fb7bd0e697a0ae8f1bb342846b3", EventSource: "aws:sqs",
		EventSourceARN: "arn:aws:sqs:us-west-2:123456789012:my-queue", AWSRegion: "us-west-2",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type S = events.DynamoDBAttributeValue

func str(s string) S { return events.NewStringAttribute(s) }

var ttlIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}

// TestDynamoDBExamples: the examples of Lambda's "Using event filtering
// with a DynamoDB event source", and the pattern of deploy/sam.
func TestDynamoDBExamples(t *testing.T) {
	t.Parallel()
	// The documentation's table: key CustomerName, attributes
	// AccountManager and PaymentTerms.
	customer := func(name, manager, terms string) []byte {
		img := map[string]S{"CustomerName": str(name), "AccountManager": str(manager), "PaymentTerms": str(terms)}
		return ddbRecord(t, "INSERT", map[string]S{"CustomerName": str(name)}, img, nil, nil)
	}
	anyCompany := customer("AnyCompany Industries", "Pat Candella", "60 days")
	other := customer("Example Corp", "Shirley Rodriguez", "30 days")
	third := customer("Example Inc", "Jo Doe", "60 days")
	orgs := ddbRecord(t, "INSERT", map[string]S{"UserID": str("12345")}, map[string]S{
		"UserID": str("12345"), "Name": str("John Doe"),
		"Organizations": events.NewListAttribute([]S{str("Sales"), str("Marketing"), str("Support")}),
	}, nil, nil)
	noOrgs := ddbRecord(t, "INSERT", map[string]S{"UserID": str("1")}, map[string]S{"UserID": str("1")}, nil, nil)
	number := ddbRecord(t, "MODIFY", map[string]S{"Id": events.NewNumberAttribute("101")}, map[string]S{
		"Id": events.NewNumberAttribute("101"), "Message": str("New item!"),
	}, map[string]S{"Id": events.NewNumberAttribute("101"), "Message": str("Old")}, nil)

	// deploy/sam/template.yaml's cleanup function: TTL deletions of
	// connections and memberships only.
	const cleanup = `{"eventName":["REMOVE"],"userIdentity":{"type":["Service"],"principalId":["dynamodb.amazonaws.com"]},"dynamodb":{"OldImage":{"type":{"S":["CONNECTION","MEMBERSHIP"]}}}}`
	item := func(typ string) map[string]S {
		return map[string]S{"pk": str("c#1"), "type": str(typ), "ttl": events.NewNumberAttribute("1700000000")}
	}
	key := map[string]S{"pk": str("c#1")}
	ttlConn := ddbRecord(t, "REMOVE", key, nil, item("CONNECTION"), ttlIdentity)
	ttlMember := ddbRecord(t, "REMOVE", key, nil, item("MEMBERSHIP"), ttlIdentity)
	ttlRoom := ddbRecord(t, "REMOVE", key, nil, item("ROOM"), ttlIdentity)
	userRemove := ddbRecord(t, "REMOVE", key, nil, item("CONNECTION"), nil)
	otherService := ddbRecord(t, "REMOVE", key, nil, item("CONNECTION"), &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "other.amazonaws.com"})
	insert := ddbRecord(t, "INSERT", key, item("CONNECTION"), nil, nil)
	modify := ddbRecord(t, "MODIFY", key, item("CONNECTION"), item("CONNECTION"), nil)

	cases := []struct {
		name     string
		patterns []string
		match    [][]byte
		nomatch  [][]byte
	}{
		{"table key", []string{`{ "dynamodb" : { "Keys" : { "CustomerName" : { "S" : [ "AnyCompany Industries" ] } } } }`},
			[][]byte{anyCompany}, [][]byte{other, third, orgs}},
		{"table attribute, OR of values", []string{`{ "dynamodb" : { "NewImage" : { "AccountManager" : { "S" : [ "Pat Candella", "Shirley Rodriguez" ] } } } }`},
			[][]byte{anyCompany, other}, [][]byte{third, orgs}},
		{"boolean AND across attributes", []string{`{ "dynamodb" : { "NewImage" : { "AccountManager" : { "S" : [ "Pat Candella" ] }, "PaymentTerms" : { "S" : [ "60 days" ] } } } }`},
			[][]byte{anyCompany}, [][]byte{other, third}},
		{"two filters are OR'ed", []string{
			`{ "dynamodb" : { "NewImage" : { "AccountManager" : { "S" : [ "Shirley Rodriguez" ] } } } }`,
			`{ "dynamodb" : { "Keys" : { "CustomerName" : { "S" : [ "Example Inc" ] } } } }`},
			[][]byte{other, third}, [][]byte{anyCompany}},
		{"exists on an attribute (not a leaf) never matches", []string{`{ "dynamodb" : { "NewImage" : { "Organizations" : [ { "exists": true } ] } } }`},
			nil, [][]byte{orgs, noOrgs}},
		{"exists on the leaf, through a list", []string{`{ "dynamodb" : { "NewImage" : { "Organizations" : { "L": { "S": [ { "exists": true } ] } } } } }`},
			[][]byte{orgs}, [][]byte{noOrgs, anyCompany}},
		{"a value in a list", []string{`{ "dynamodb" : { "NewImage" : { "Organizations" : { "L": { "S": [ "Marketing" ] } } } } }`},
			[][]byte{orgs}, [][]byte{noOrgs}},
		{"does not exist", []string{`{ "dynamodb" : { "NewImage" : { "Organizations" : { "L": { "S": [ { "exists": false } ] } } } } }`},
			[][]byte{noOrgs, anyCompany}, [][]byte{orgs}},
		{"multi-level: a number key is a string", []string{`{ "dynamodb": { "Keys": { "Id": { "N": [ "101" ] } } } }`},
			[][]byte{number}, [][]byte{anyCompany}},
		{"numeric does not apply to N, a string", []string{`{ "dynamodb": { "Keys": { "Id": { "N": [ { "numeric": [ "=", 101 ] } ] } } } }`},
			nil, [][]byte{number}},
		{"eventName", []string{`{ "eventName": [ "INSERT" ] }`},
			[][]byte{anyCompany, insert}, [][]byte{number, ttlConn}},
		{"anything-but an event name", []string{`{ "eventName": [ { "anything-but": [ "REMOVE" ] } ] }`},
			[][]byte{insert, modify, number}, [][]byte{ttlConn, userRemove}},
		{"prefix of an attribute", []string{`{ "dynamodb": { "NewImage": { "CustomerName": { "S": [ { "prefix": "Example" } ] } } } }`},
			[][]byte{other, third}, [][]byte{anyCompany}},
		{"deploy/sam cleanup: TTL REMOVE of connections and memberships", []string{cleanup},
			[][]byte{ttlConn, ttlMember}, [][]byte{ttlRoom, userRemove, otherService, insert, modify}},
		{"TTL deletions by userIdentity alone", []string{`{"userIdentity": {"type": ["Service"]}}`},
			[][]byte{ttlConn, ttlRoom, otherService}, [][]byte{userRemove, insert}},
		{"no userIdentity: exists false", []string{`{"eventName": ["REMOVE"], "userIdentity": {"type": [{"exists": false}]}}`},
			[][]byte{userRemove}, [][]byte{ttlConn, insert}},
		{"$or across fields", []string{`{"$or": [{"eventName": ["INSERT"]}, {"userIdentity": {"type": ["Service"]}}]}`},
			[][]byte{insert, ttlConn}, [][]byte{modify, userRemove}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, err := Compile(c.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.match {
				if !f.Match(r) {
					t.Errorf("%s does not match %s", c.patterns, r)
				}
			}
			for _, r := range c.nomatch {
				if f.Match(r) {
					t.Errorf("%s matches %s", c.patterns, r)
				}
			}
		})
	}
}

// TestSQSExamples: the examples of Lambda's "Using event filtering with an
// Amazon SQS event source": the body matched as JSON when it is JSON, as a
// string when it is not, and dropped on a mismatch.
func TestSQSExamples(t *testing.T) {
	t.Parallel()
	msg := func(n int, code string) []byte {
		return sqsRecord(t, fmt.Sprintf("{\n \"RecordNumber\": %d,\n \"TimeStamp\": \"yyyy-mm-ddThh:mm:ss\",\n \"RequestCode\": %q\n}", n, code))
	}
	aaaa, bbbb, big := msg(1234, "AAAA"), msg(1235, "BBBB"), msg(10000, "AAAA")
	plain := sqsRecord(t, "This is a plain message")
	plainBBBB := sqsRecord(t, "BBBB")
	number := sqsRecord(t, "42")
	list := sqsRecord(t, `[{"RequestCode": "BBBB"}, {"RequestCode": "CCCC"}]`)
	broken := sqsRecord(t, `{"RequestCode": "BBBB"`)
	nested := sqsRecord(t, `{"order": {"items": [{"sku": "a-1", "qty": 2}, {"sku": "b-7", "qty": 0}]}, "note": null, "tag": ""}`)

	cases := []struct {
		name     string
		patterns []string
		match    [][]byte
		nomatch  [][]byte
	}{
		{"JSON body field", []string{`{ "body" : { "RequestCode" : [ "BBBB" ] } }`},
			[][]byte{bbbb, list}, [][]byte{aaaa, big, plain, plainBBBB, broken}},
		{"numeric in the body", []string{`{ "body" : { "RecordNumber" : [ { "numeric": [ ">", 9999 ] } ] } }`},
			[][]byte{big}, [][]byte{aaaa, bbbb, plain}},
		{"numeric range", []string{`{ "body" : { "RecordNumber" : [ { "numeric": [ ">=", 1234, "<", 1235 ] } ] } }`},
			[][]byte{aaaa}, [][]byte{bbbb, big}},
		{"numeric equals", []string{`{ "body" : { "RecordNumber" : [ { "numeric": [ "=", 1235 ] } ] } }`},
			[][]byte{bbbb}, [][]byte{aaaa, big}},
		{"plain string body", []string{`{ "body" : [ { "prefix": "This is" } ] }`},
			[][]byte{plain}, [][]byte{aaaa, plainBBBB}},
		{"plain string pattern and a JSON body: dropped", []string{`{ "body" : [ { "prefix": "{" } ] }`},
			nil, [][]byte{aaaa, bbbb, plain, list}},
		{"plain string equals", []string{`{ "body" : [ "BBBB", "42" ] }`},
			[][]byte{plainBBBB, number}, [][]byte{bbbb, plain}},
		{"an object pattern and a body that is not a JSON object: dropped", []string{`{ "body" : { "RequestCode" : [ { "exists": false } ] } }`},
			[][]byte{nested}, [][]byte{aaaa, plain, number, broken}},
		{"metadata only: any body", []string{`{ "attributes" : { "SenderId" : [ "AIDAIENQZJOLO23YVJ4VO" ] } }`},
			[][]byte{aaaa, plain, broken}, nil},
		{"nested fields in a list of objects", []string{`{ "body" : { "order": { "items": { "sku": [ { "prefix": "b-" } ], "qty": [ 0 ] } } } }`},
			[][]byte{nested}, [][]byte{aaaa, plain}},
		{"the fields of one list element", []string{`{ "body" : { "order": { "items": { "sku": [ "a-1" ], "qty": [ 0 ] } } } }`},
			nil, [][]byte{nested}},
		{"null and empty", []string{`{ "body" : { "note": [ null ], "tag": [ "" ] } }`},
			[][]byte{nested}, [][]byte{aaaa}},
		{"null is not a missing field", []string{`{ "body" : { "RecordNumber": [ null ] } }`},
			nil, [][]byte{aaaa, nested}},
		{"wildcard", []string{`{ "body" : { "TimeStamp" : [ { "wildcard": "yyyy-*T*:ss" } ] } }`},
			[][]byte{aaaa, bbbb}, [][]byte{nested, plain}},
		{"equals-ignore-case", []string{`{ "body" : { "RequestCode" : [ { "equals-ignore-case": "bbbb" } ] } }`},
			[][]byte{bbbb}, [][]byte{aaaa}},
		{"suffix", []string{`{ "body" : [ { "suffix": "message" } ] }`},
			[][]byte{plain}, [][]byte{plainBBBB, aaaa}},
		{"numbers by their text", []string{`{ "body" : { "RecordNumber" : [ 1234 ] } }`},
			[][]byte{aaaa}, [][]byte{bbbb, sqsRecord(t, `{"RecordNumber": 1234.0}`)}},
		{"a string is not a number", []string{`{ "body" : { "RecordNumber" : [ "1234" ] } }`},
			nil, [][]byte{aaaa}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, err := Compile(c.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.match {
				if !f.Match(r) {
					t.Errorf("%s does not match %s", c.patterns, r)
				}
			}
			for _, r := range c.nomatch {
				if f.Match(r) {
					t.Errorf("%s matches %s", c.patterns, r)
				}
			}
		})
	}
}

// TestOperators: EventBridge's rules on plain JSON records.
func TestOperators(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		// The operator table of Lambda's "Filter rule syntax".
		{`{"UserID": [null]}`, []string{`{"UserID": null}`, `{"UserID": [1, null]}`}, []string{`{}`, `{"UserID": "null"}`, `{"UserID": ""}`}},
		{`{"LastName": [""]}`, []string{`{"LastName": ""}`}, []string{`{}`, `{"LastName": null}`, `{"LastName": " "}`}},
		{`{"Name": ["Alice"]}`, []string{`{"Name": "Alice"}`, `{"Name": ["Bob", "Alice"]}`}, []string{`{"Name": "alice"}`, `{"Name": {"Alice": 1}}`}},
		{`{"Name": [{"equals-ignore-case": "alice"}]}`, []string{`{"Name": "ALICE"}`, `{"Name": "Alice"}`}, []string{`{"Name": "Alic"}`, `{"Name": 1}`}},
		{`{"Location": ["New York"], "Day": ["Monday"]}`, []string{`{"Location": "New York", "Day": "Monday"}`}, []string{`{"Location": "New York", "Day": "Tuesday"}`, `{"Location": "New York"}`}},
		{`{"PaymentType": ["Credit", "Debit"]}`, []string{`{"PaymentType": "Debit"}`}, []string{`{"PaymentType": "Cash"}`}},
		{`{"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}`, []string{`{"Location": "New York"}`, `{"Day": "Monday", "Location": "Paris"}`}, []string{`{"Location": "Paris"}`}},
		{`{"Weather": [{"anything-but": ["Raining"]}]}`, []string{`{"Weather": "Sunny"}`, `{"Weather": 3}`, `{"Weather": ["Raining", "Snow"]}`}, []string{`{"Weather": "Raining"}`, `{}`}},
		{`{"Weather": [{"anything-but": "Raining"}]}`, []string{`{"Weather": "Sunny"}`}, []string{`{"Weather": "Raining"}`}},
		{`{"Code": [{"anything-but": [200, 204]}]}`, []string{`{"Code": 500}`, `{"Code": "200"}`}, []string{`{"Code": 200}`, `{"Code": 204}`}},
		{`{"Region": [{"anything-but": {"prefix": "us-"}}]}`, []string{`{"Region": "eu-west-1"}`}, []string{`{"Region": "us-east-1"}`, `{}`}},
		{`{"File": [{"anything-but": {"suffix": [".png", ".jpg"]}}]}`, []string{`{"File": "a.gif"}`}, []string{`{"File": "a.png"}`, `{"File": "a.jpg"}`}},
		{`{"Price": [{"numeric": ["=", 100]}]}`, []string{`{"Price": 100}`, `{"Price": 100.0}`, `{"Price": 1e2}`}, []string{`{"Price": "100"}`, `{"Price": 101}`}},
		{`{"Price": [{"numeric": [">", 10, "<=", 20]}]}`, []string{`{"Price": 20}`, `{"Price": 10.5}`}, []string{`{"Price": 10}`, `{"Price": 20.01}`, `{}`}},
		{`{"Price": [{"numeric": ["<", 0]}]}`, []string{`{"Price": -1}`}, []string{`{"Price": 0}`}},
		{`{"ProductName": [{"exists": true}]}`, []string{`{"ProductName": "x"}`, `{"ProductName": null}`, `{"ProductName": ""}`}, []string{`{}`, `{"ProductName": {"a": 1}}`, `{"ProductName": []}`}},
		{`{"ProductName": [{"exists": false}]}`, []string{`{}`, `{"Other": 1}`}, []string{`{"ProductName": "x"}`, `{"ProductName": null}`}},
		{`{"Region": [{"prefix": "us-"}]}`, []string{`{"Region": "us-east-1"}`}, []string{`{"Region": "eu-west-1"}`, `{"Region": "US-east-1"}`}},
		{`{"Region": [{"prefix": {"equals-ignore-case": "US-"}}]}`, []string{`{"Region": "us-east-1"}`, `{"Region": "Us-x"}`}, []string{`{"Region": "eu-west-1"}`, `{"Region": "u"}`}},
		{`{"FileName": [{"suffix": ".png"}]}`, []string{`{"FileName": "a.png"}`}, []string{`{"FileName": "a.PNG"}`, `{"FileName": "png"}`}},
		{`{"FileName": [{"suffix": {"equals-ignore-case": ".PNG"}}]}`, []string{`{"FileName": "a.png"}`, `{"FileName": "ä.Png"}`}, []string{`{"FileName": "a.gif"}`, `{"FileName": "g"}`}},
		// Lambda's console example.
		{`{ "a" : [ 1, 2 ] }`, []string{`{"a": 1}`, `{"a": 2}`, `{"a": [3, 2]}`}, []string{`{"a": 3}`, `{"a": "1"}`, `{"a": 1.0}`}},
		// The Kinesis examples of "Filtering examples".
		{`{ "partitionKey": [ "1" ], "data": { "Location": [ "Los Angeles" ] }}`, []string{`{"partitionKey": "1", "data": {"Location": "Los Angeles", "Day": "Monday"}}`}, []string{`{"partitionKey": "2", "data": {"Location": "Los Angeles"}}`}},
		{`{ "data": { "Temperature": [ {"numeric": [ ">", 50, "<=", 60 ] } ] } }`, []string{`{"data": {"Temperature": 55}}`, `{"data": {"Temperature": 60}}`}, []string{`{"data": {"Temperature": 50}}`, `{"data": {"Temperature": "55"}}`}},
		{`{"flag": [true]}`, []string{`{"flag": true}`}, []string{`{"flag": false}`, `{"flag": "true"}`}},
		{`{"ip": [{"cidr": "10.0.0.0/24"}]}`, []string{`{"ip": "10.0.0.7"}`}, []string{`{"ip": "10.0.1.7"}`, `{"ip": "x"}`}},
		{`{"path": [{"wildcard": "a*b*c"}]}`, []string{`{"path": "abc"}`, `{"path": "aXbYc"}`, `{"path": "abbc"}`}, []string{`{"path": "ab"}`, `{"path": "acb"}`, `{"path": "ac"}`}},
		{`{"path": [{"wildcard": "a\\*b"}]}`, []string{`{"path": "a*b"}`}, []string{`{"path": "aXb"}`}},
		{`{"a": {"b": {"c": ["x"]}}}`, []string{`{"a": {"b": {"c": "x"}}}`, `{"a": [{"b": {"c": "y"}}, {"b": [{"c": "x"}]}]}`}, []string{`{"a": {"b": "c"}}`, `{"a": "x"}`, `{}`}},
		{`{}`, []string{`{}`, `{"a": 1}`}, nil},
	}
	for _, c := range cases {
		f, err := Compile([]string{c.pattern})
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		for _, r := range c.match {
			if !f.Match([]byte(r)) {
				t.Errorf("%s does not match %s", c.pattern, r)
			}
		}
		for _, r := range c.nomatch {
			if f.Match([]byte(r)) {
				t.Errorf("%s matches %s", c.pattern, r)
			}
		}
	}
}

func TestNoFilters(t *testing.T) {
	t.Parallel()
	var nilFilter *Filter
	empty, err := Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Filter{nilFilter, empty} {
		if !f.Match([]byte(`{"a":1}`)) || !f.Match([]byte(`not JSON`)) || f.Len() != 0 {
			t.Errorf("a filter without patterns must match everything")
		}
	}
	f, err := Compile([]string{`{"a": [1]}`})
	if err != nil {
		t.Fatal(err)
	}
	if f.Match([]byte(`{"a": 1} trailing`)) || f.Match([]byte(`{"a": `)) {
		t.Error("a record that is not JSON matched")
	}
}

// TestCompileErrors: a bad pattern is an error naming the filter, the
// field and what is wrong.
func TestCompileErrors(t *testing.T) {
	t.Parallel()
	six := make([]string, 11)
	for i := range six {
		six[i] = `{"a": [1]}`
	}
	if _, err := Compile(six); err == nil || !strings.Contains(err.Error(), "11 filters") {
		t.Errorf("11 filters: %v", err)
	}
	if _, err := Compile([]string{`{"a": [1]}`, `{"a": ["` + strings.Repeat("x", 4100) + `"]}`}); err == nil || !strings.Contains(err.Error(), "Filters[1]: pattern of 4111 characters") {
		t.Errorf("a long pattern: %v", err)
	}
	cases := []struct{ pattern, want string }{
		{``, "Filters[0]: empty pattern"},
		{`{"eventName": ["INSERT"]`, "Filters[0]: pattern is not JSON"},
		{`{"a": [1]} {}`, "not JSON: data after"},
		{`["INSERT"]`, `pattern ["INSERT"] is not a JSON object`},
		{`{"eventName": "REMOVE"}`, `eventName: "REMOVE" must be in a list, as ["REMOVE"]`},
		{`{"dynamodb": {"NewImage": {"n": {"N": 5}}}}`, `dynamodb.NewImage.n.N: 5 must be in a list`},
		{`{"a": []}`, "a: an empty list matches nothing"},
		{`{"a": [["x"]]}`, `a: ["x"]: a list inside the list`},
		{`{"a": [{"begins-with": "x"}]}`, `a: unknown operator "begins-with"`},
		{`{"a": [{"prefix": "x", "suffix": "y"}]}`, "a: a rule object has exactly one operator"},
		{`{"a": [{"prefix": 1}]}`, "a: prefix: 1: want a string"},
		{`{"a": [{"prefix": {"equals-ignore-case": 1}}]}`, "a: prefix: 1: want a string"},
		{`{"a": [{"equals-ignore-case": ["x"]}]}`, `a: equals-ignore-case: ["x"]: want a string`},
		{`{"a": [{"wildcard": "a**b"}]}`, "two stars in a row"},
		{`{"a": [{"wildcard": "a\\b"}]}`, "a backslash escapes only"},
		{`{"a": [{"exists": "yes"}]}`, `a: exists: "yes": want true or false`},
		{`{"a": [{"anything-but": []}]}`, "a: anything-but: an empty list"},
		{`{"a": [{"anything-but": [null]}]}`, "the values to exclude are strings or numbers"},
		{`{"a": [{"anything-but": true}]}`, "a: anything-but: true: want a string, a number"},
		{`{"a": [{"anything-but": {"numeric": [">", 1]}}]}`, `operator "numeric": want prefix`},
		{`{"a": [{"numeric": [">", "5"]}]}`, `a: numeric: > "5": want a number`},
		{`{"a": [{"numeric": ["==", 5]}]}`, `"==" is not a comparison`},
		{`{"a": [{"numeric": [">", 5, ">", 6]}]}`, "a range has one lower bound"},
		{`{"a": [{"numeric": ["=", 5, "<", 6]}]}`, "a range has one lower bound"},
		{`{"a": [{"numeric": [">", 6, "<", 5]}]}`, "is empty"},
		{`{"a": [{"numeric": [">", 6, "<"]}]}`, "want [\"<op>\", number]"},
		{`{"a": [{"numeric": [">", 1e999]}]}`, "out of range"},
		{`{"a": [{"cidr": "10.0.0.0/33"}]}`, "not an IP prefix"},
		{`{"$or": [{"a": [1]}]}`, "$or: want a list of at least two"},
		{`{"$or": {"a": [1]}}`, "$or: {\"a\":[1]}: want a list of patterns"},
		{`{"$or": [{"a": [1]}, "b"]}`, `$or[1]: "b": want a pattern`},
		{`{"x": {"$or": [{"a": [1]}, {"b": []}]}}`, "x.$or.b: an empty list"},
	}
	for _, c := range cases {
		_, err := Compile([]string{c.pattern})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.pattern, err, c.want)
		}
	}
}

func FuzzCompileMatch(f *testing.F) {
	seeds := []struct{ pattern, record string }{
		{`{"eventName":["REMOVE"],"userIdentity":{"type":["Service"]},"dynamodb":{"OldImage":{"type":{"S":["CONNECTION"]}}}}`,
			`{"eventName":"REMOVE","userIdentity":{"type":"Service"},"dynamodb":{"OldImage":{"type":{"S":"CONNECTION"}}}}`},
		{`{"body":{"RequestCode":["BBBB"]}}`, `{"body":"{\"RequestCode\":\"BBBB\"}"}`},
		{`{"body":[{"prefix":"x"}]}`, `{"body":"xyz"}`},
		{`{"a":[{"numeric":[">",1,"<=",5]}],"b":[{"anything-but":{"prefix":"x"}}]}`, `{"a":[2,9],"b":"y"}`},
		{`{"a":[{"wildcard":"a*b\\*"}],"$or":[{"c":[null]},{"d":[{"exists":false}]}]}`, `{"a":"axb*","c":null}`},
		{`{"a":[{"cidr":"10.0.0.0/8"},{"equals-ignore-case":"ß"},{"suffix":{"equals-ignore-case":"K"}}]}`, `{"a":["10.1.2.3","x\u212a"]}`},
	}
	for _, s := range seeds {
		f.Add(s.pattern, s.record)
	}
	f.Fuzz(func(t *testing.T, pattern, record string) {
		flt, err := Compile([]string{pattern})
		if err != nil {
			if err.Error() == "" {
				t.Error("an empty error")
			}
			return
		}
		flt.Match([]byte(record))
		flt.Match([]byte(`{"body":` + strconvQuote(record) + `}`))
	})
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
