package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// headerFlags collects repeated --header K:V flags.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }
func (h headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want NAME:VALUE, got %q", v)
	}
	http.Header(h).Add(strings.TrimSpace(k), strings.TrimSpace(val))
	return nil
}

// stdin is replaceable in tests.
var stdin io.Reader = os.Stdin

func runConnect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("connect", stderr)
	token := fs.String("token", "", "sent as ?token=")
	headers := headerFlags{}
	fs.Var(headers, "header", "an extra handshake header NAME:VALUE (repeatable)")
	subprotocol := fs.String("subprotocol", "", "offer this subprotocol")
	wait := fs.Duration("wait", time.Second, "after the input ends, how long to wait for frames before closing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: switchboard connect URL [flags]\n\nSends each line of input as a text frame and prints every frame received.")
		fs.PrintDefaults()
	}
	// URL first, flags after (or the other way round).
	var target string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		target, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	switch {
	case target == "" && fs.NArg() == 1:
		target = fs.Arg(0)
	case target == "" && fs.NArg() == 0:
		fmt.Fprintln(stderr, "switchboard connect: missing the URL to connect to, e.g. ws://127.0.0.1:8080/dev")
		fs.Usage()
		return errUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "switchboard connect: unexpected argument %q (one URL only)\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		return fmt.Errorf("URL %q: want ws:// or wss://", RedactURL(target))
	}
	if *token != "" {
		q := u.Query()
		q.Set("token", *token)
		u.RawQuery = q.Encode()
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	if *subprotocol != "" {
		d.Subprotocols = []string{*subprotocol}
	}
	conn, resp, err := d.DialContext(ctx, u.String(), http.Header(headers))
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return fmt.Errorf("handshake refused: HTTP %s %s", resp.Status, strings.TrimSpace(string(body)))
		}
		return fmt.Errorf("connecting: %w", err)
	}
	fmt.Fprintf(stderr, "connected (%s)%s\n", RedactURL(u.String()), protoNote(conn.Subprotocol()))

	var outMu sync.Mutex
	print := func(format string, a ...any) {
		outMu.Lock()
		fmt.Fprintf(stdout, format, a...)
		outMu.Unlock()
	}
	// The frame reader is waited for on return (closing conn ends it). The
	// stdin reader is not: a read of a terminal cannot be interrupted. It
	// never blocks on anything else, so it ends at the next line or the end
	// of the input (at once when the input is not a terminal; the CLI's
	// process exits first otherwise).
	var readers sync.WaitGroup
	done := make(chan struct{})
	defer func() {
		close(done)
		conn.Close()
		readers.Wait()
	}()
	closed := make(chan error, 1)
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			typ, p, err := conn.ReadMessage()
			if err != nil {
				closed <- err
				return
			}
			if typ == websocket.BinaryMessage {
				print("< [binary %d bytes]\n", len(p))
				continue
			}
			print("< %s\n", p)
		}
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		defer close(lines)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case err := <-closed:
			return describeClose(err, stdout)
		case line, ok := <-lines:
			if !ok {
				select {
				case err := <-closed:
					return describeClose(err, stdout)
				case <-time.After(*wait):
				}
				conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				select {
				case err := <-closed:
					return describeClose(err, stdout)
				case <-time.After(2 * time.Second):
					return nil
				}
			}
			if line == "" {
				continue
			}
			if err := conn.WriteMessage(websocket.TextMessage, []byte(line)); err != nil {
				return fmt.Errorf("sending: %w", err)
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func protoNote(p string) string {
	if p == "" {
		return ""
	}
	return ", subprotocol " + p
}

// describeClose prints how the connection ended; an abnormal end is an error.
func describeClose(err error, stdout io.Writer) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Fprintf(stdout, "closed: %d %s\n", ce.Code, ce.Text)
		return nil
	}
	return fmt.Errorf("connection lost: %w", err)
}
