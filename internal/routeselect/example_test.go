package routeselect_test

import (
	"fmt"

	"github.com/switchboard-ws/switchboard/internal/routeselect"
)

func Example() {
	e := routeselect.MustParse("${request.body.service}/${request.body.action}")
	fmt.Println(e.Select([]byte(`{"service":"chat","action":"join"}`)))
	fmt.Println(e.Select([]byte(`{"service":"chat"}`)))
	fmt.Println(e.Select([]byte(`not json`)))
	// Output:
	// chat/join true
	// chat/ true
	//  false
}

func ExampleExpr_Select() {
	e := routeselect.MustParse("$request.body.action")
	for _, body := range []string{
		`{"action":"caf\u00e9"}`,
		`{"action":1.50}`,
		`{"action":null}`,
		`{"action":["a",1,null]}`,
		`{"action":{"k":"v","n":2}}`,
	} {
		key, ok := e.Select([]byte(body))
		fmt.Printf("%q %v\n", key, ok)
	}
	// Output:
	// "café" true
	// "1.50" true
	// "" true
	// "[a, 1, null]" true
	// "{k=v, n=2}" true
}

func ExampleParse() {
	_, err := routeselect.Parse("$request.header.x")
	fmt.Println(err)
	_, err = routeselect.Parse("$request.body.a..b")
	fmt.Println(err)
	// Output:
	// routeselect: invalid expression "$request.header.x": at offset 1: unsupported variable "request.header.x": WebSocket route selection can only use request.body (e.g. $request.body.action)
	// routeselect: invalid expression "$request.body.a..b": at offset 16: empty JSON path segment
}
