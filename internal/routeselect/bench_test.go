package routeselect

import (
	"fmt"
	"strings"
	"testing"
)

// chatMessage is a typical ~200-byte chat message.
const chatMessage = `{"action":"sendmessage","roomId":"general","message":"Hello everyone, the deploy finished and all checks are green.","clientTs":1718035200123,"meta":{"client":"web","v":"2.4.1"}}`

// largeBody returns a ~100 KB message: the action followed by a big payload.
func largeBody() []byte {
	var b strings.Builder
	b.WriteString(`{"action":"upload","items":[`)
	for i := 0; b.Len() < 100<<10; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item number %d","tags":["alpha","beta","caf\u00e9"],"price":%d.99,"ok":true,"note":null}`, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkSelect(b *testing.B) {
	cases := []struct {
		name, expr string
		body       []byte
	}{
		{"chat", "$request.body.action", []byte(chatMessage)},
		{"chat/template", "${request.body.action}/${request.body.roomId}", []byte(chatMessage)},
		{"100KB", "$request.body.action", largeBody()},
		// Worst case for converting an object to text: 4000 nested objects.
		{"deep-object", "$request.body.action", []byte(`{"action":` +
			strings.Repeat(`{"a":`, 4000) + "1" + strings.Repeat(`,"b":[1,2,3],"a":2}`, 4000) + "}")},
	}
	for _, c := range cases {
		e := MustParse(c.expr)
		if _, ok := e.Select(c.body); !ok {
			b.Fatalf("%s: invalid body", c.name)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				e.Select(c.body)
			}
		})
	}
}
