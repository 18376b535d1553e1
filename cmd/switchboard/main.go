// Command switchboard runs WebSocket APIs with the behaviour of AWS API
// Gateway: `switchboard serve --config api.yaml`. See README.md.
package main

import (
	"os"

	"github.com/switchboard-ws/switchboard/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
