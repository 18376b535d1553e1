package eventsource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// DynamoDB Local 3.3 writes an empty map attribute in stream records as
// {} instead of {"M": {}}, and the SDK's decoder then gives that attribute
// the value of the attribute decoded before it (or none): GetRecords
// responses are mended before they are decoded. The mending touches only
// attribute values that are empty objects, which AWS never sends.
func withEmptyMapFix(o *dynamodbstreams.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Deserialize.Insert(emptyMapFix{}, "OperationDeserializer", middleware.After)
	})
}

type emptyMapFix struct{}

func (emptyMapFix) ID() string { return "eventsource.EmptyMapFix" }

func (emptyMapFix) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.StatusCode != 200 || resp.Body == nil {
		return out, md, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return out, md, fmt.Errorf("reading GetRecords response: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(mendEmptyMaps(body)))
	return out, md, nil
}

// mendEmptyMaps rewrites the attribute values {} of a GetRecords response
// as {"M": {}}; a response without any is returned as it is.
func mendEmptyMaps(body []byte) []byte {
	if !bytes.Contains(body, []byte("{}")) {
		return body
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return body
	}
	recs, _ := doc["Records"].([]any)
	changed := false
	for _, r := range recs {
		rec, _ := r.(map[string]any)
		change, _ := rec["dynamodb"].(map[string]any)
		for _, field := range []string{"Keys", "NewImage", "OldImage"} {
			if img, ok := change[field].(map[string]any); ok {
				changed = mendMap(img) || changed
			}
		}
	}
	if !changed {
		return body
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(doc); err != nil {
		return body
	}
	return buf.Bytes()
}

// mendMap mends the attribute values of an image or a map attribute.
func mendMap(m map[string]any) bool {
	changed := false
	for k, v := range m {
		av, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if len(av) == 0 {
			m[k] = map[string]any{"M": map[string]any{}}
			changed = true
			continue
		}
		changed = mendValue(av) || changed
	}
	return changed
}

// mendValue mends what an attribute value holds (maps and lists).
func mendValue(av map[string]any) bool {
	if inner, ok := av["M"].(map[string]any); ok {
		return mendMap(inner)
	}
	changed := false
	if list, ok := av["L"].([]any); ok {
		for i, e := range list {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if len(em) == 0 {
				list[i] = map[string]any{"M": map[string]any{}}
				changed = true
				continue
			}
			changed = mendValue(em) || changed
		}
	}
	return changed
}
