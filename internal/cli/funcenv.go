package cli

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/queue"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// functionEnv is what every function that serve starts gets, so that its
// unmodified code reaches the local endpoints (docs/templates.md, "How
// functions reach local endpoints"):
//   - AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI (this gateway's stage),
//     AWS_ENDPOINT_URL_SQS (the local SQS API, when there are queues),
//     AWS_ENDPOINT_URL_DYNAMODB and _DYNAMODB_STREAMS (--dynamodb-endpoint):
//     honoured by SDK v3, aws-sdk-go-v2 and boto3 when the code passes no
//     endpoint itself; the Node.js runtime applies them to aws-sdk v2 too;
//   - SWITCHBOARD_EXECUTE_API_HOST and SWITCHBOARD_GATEWAY_ADDR: the Node.js
//     runtime sends connections to the API's AWS host name, and to AWS's
//     names of the local services (awsHosts), here; with TLS,
//     HTTPS_PROXY does the same for Go, Python and others (connectproxy);
//   - the CA bundle variables (serverTLS.functionEnv);
//   - credentials, as Lambda gives a function its role's: the first
//     management credential when there are some (so that SigV4 passes),
//     else dummy ones that the loopback-only management API does not check.
type functionEnv struct {
	gw          *gateway.Server
	addr        string // where the gateway listens
	tls         *serverTLS
	dynamoDB    string // --dynamodb-endpoint, or ""
	sqs         bool   // the file has queues
	credentials sigv4.Credentials
	services    []string // AWS's host names of the local services (awsHosts)
}

func (e functionEnv) build() map[string]string {
	env := e.tls.functionEnv()
	base := "http://" + e.addr
	env["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = base + "/" + e.gw.Stage()
	if e.sqs {
		env["AWS_ENDPOINT_URL_SQS"] = base + queue.APIPath
	}
	if e.dynamoDB != "" {
		env["AWS_ENDPOINT_URL_DYNAMODB"] = e.dynamoDB
		env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = e.dynamoDB
	}
	env["SWITCHBOARD_EXECUTE_API_HOST"] = strings.Join(append([]string{e.gw.ExecuteAPIHost()}, e.services...), ",")
	env["SWITCHBOARD_GATEWAY_ADDR"] = e.addr
	if e.tls != nil {
		// The same for Go, Python and other code that honours a proxy:
		// serve's CONNECT proxy (package connectproxy) sends the API's
		// host name to this port, and any other host to that host.
		proxy := "http://" + e.addr
		env["HTTPS_PROXY"], env["https_proxy"] = proxy, proxy
		env["NO_PROXY"], env["no_proxy"] = "localhost,127.0.0.1,::1", "localhost,127.0.0.1,::1"
	}
	if len(e.credentials) > 0 {
		ids := make([]string, 0, len(e.credentials))
		for id := range e.credentials {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		env["AWS_ACCESS_KEY_ID"] = ids[0]
		env["AWS_SECRET_ACCESS_KEY"] = e.credentials[ids[0]]
	} else {
		env["AWS_ACCESS_KEY_ID"] = "SWITCHBOARDLOCAL"
		env["AWS_SECRET_ACCESS_KEY"] = "switchboard-local"
	}
	return env
}

// checkEndpointFlag refuses an endpoint that is not an http(s) URL.
func checkEndpointFlag(flag, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: want an http:// or https:// URL such as http://127.0.0.1:8000 (got %q)", flag, v)
	}
	return nil
}
