package config_test

import (
	"errors"
	"testing"

	"github.com/switchboard-ws/switchboard/config"
)

// FuzzParse feeds arbitrary documents to Parse, the reader of `switchboard
// serve --config`: whatever the input, it returns a File or an error that
// wraps ErrInvalid, and never panics or loops.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"stage: dev\nrouteSelectionExpression: $request.body.action\nroutes:\n  echo:\n    routeRespnse: true\n    integration: {type: http, url: \"localhost:9001\"}\nlimits:\n  connectRate: -3\n",
		"a: &x\n  b: *x\n",
		"stage: &s dev\nrouteSelectionExpression: $request.body.action\napiId: *s\nlimits: &l {maxMessageBytes: 10}\nqueues:\n  q: {<<: *l}\n",
		"x: &a [*a, *a]\n",
		"routes: [1, 2]\nlimits: 5\n",
		"stage: dev\n\t- x\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := config.Parse(data)
		if err != nil {
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			_ = err.Error()
			return
		}
		if file == nil {
			t.Fatal("neither a File nor an error")
		}
	})
}
