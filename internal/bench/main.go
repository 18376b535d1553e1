// Package bench is `switchboard bench`: load scenarios (fanout, connect,
// roundtrip, idle) against switchboard dev and against a baseline server,
// with HDR latency histograms, a plain table, JSON and PNG charts.
//
// The client load is made of lean connections (gorilla/websocket, small
// buffers, one reader goroutine each) held by workers: this process up to
// --per-worker connections, else child processes (this binary re-executed
// with the hidden `bench __worker`), because one process may hold at most
// 20,000 open files here. Senders use the Go SDK (package client).
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Main runs `switchboard bench ARGS`. The hidden first arguments __worker,
// __baseline and __devserver run the child processes the bench starts.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "__worker":
			return WorkerMain(os.Stdin, stdout)
		case "__baseline":
			return baselineMain(args[1:], os.Stdin, stdout, stderr)
		case "__devserver":
			return devServerMain(args[1:], os.Stdin, stdout, stderr)
		case "__charts":
			return renderMain(args[1:], stderr)
		}
	}
	cfg, err := ParseArgs(args, stderr)
	if err != nil {
		return err
	}
	return RunAndPrint(ctx, cfg, stdout, stderr)
}

// RunAndPrint runs cfg and prints the table (or JSON), and writes the
// report directory when asked.
func RunAndPrint(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	rep, err := Run(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.JSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		rep.WriteTable(stdout)
	}
	if cfg.Report != "" {
		files, err := rep.WriteReport(cfg.Report, cfg.label())
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Fprintf(stderr, "wrote %s\n", f)
		}
	}
	return nil
}

// ChildMain runs this process as the child the environment names (a test
// binary re-executed by the bench) and reports whether it did.
func ChildMain() (bool, int) {
	args := os.Args[1:]
	if len(args) > 0 && strings.HasPrefix(args[0], "__") {
		args = args[1:]
	}
	var err error
	switch os.Getenv(childEnv) {
	case "worker":
		err = WorkerMain(os.Stdin, os.Stdout)
	case "baseline":
		err = baselineMain(args, os.Stdin, os.Stdout, os.Stderr)
	case "devserver":
		err = devServerMain(args, os.Stdin, os.Stdout, os.Stderr)
	default:
		return false, 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return true, 1
	}
	return true, 0
}

// renderMain is the hidden `bench __charts REPORT.json DIR LABEL`: the
// charts of a saved report drawn again.
func renderMain(args []string, stderr io.Writer) error {
	if len(args) != 3 {
		fmt.Fprintln(stderr, "usage: switchboard bench __charts REPORT.json DIR LABEL")
		return ErrUsage
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	files, err := rep.writeCharts(args[1], args[2])
	for _, f := range files {
		fmt.Fprintf(stderr, "wrote %s\n", f)
	}
	return err
}
