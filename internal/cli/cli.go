// Package cli is the switchboard command line: one function per
// subcommand, each parsing its own flags. main only calls Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run a WebSocket API described by a config file", runServe},
		{"dev", "run the chat backend on this machine: gateway, handlers and an embedded store", runDev},
		{"token", "print a development token for switchboard dev", runToken},
		{"connect", "an interactive WebSocket client: send lines, print frames", runConnect},
		{"post", "post to, describe or disconnect a connection through the management API", runPost},
		{"bench", "measure fan-out, connects, round trips and idle memory against switchboard dev or the baseline", runBench},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "switchboard", versionString())
			return nil
		}},
	}
}

// errUsage means the arguments were wrong; the usage was already printed.
var errUsage = errors.New("usage")

// Main runs the command line and returns the process exit code. Help
// asked for (help, -h, --help, help COMMAND, COMMAND -h) goes to stdout
// and exits 0; a usage error goes to stderr and exits 2.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			if c, ok := lookup(args[1]); ok {
				return commandHelp(c, stdout)
			}
			fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n", args[1])
			usage(stderr)
			return 2
		}
		usage(stdout)
		return 0
	case "--version", "-version", "-v":
		args = []string{"version"}
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if wantsHelp(args[1:]) {
		return commandHelp(c, stdout)
	}
	err := c.run(context.Background(), args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintf(stderr, "switchboard %s: %v\n", c.name, err)
		return 1
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// wantsHelp says whether args ask for help (-h, -help or --help before
// any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// commandHelp prints c's usage and flags to stdout: c runs with -h and
// both its outputs on stdout.
func commandHelp(c command, stdout io.Writer) int {
	if c.name == "version" {
		fmt.Fprintf(stdout, "Usage: switchboard version\n\n%s.\n", c.summary)
		return 0
	}
	err := c.run(context.Background(), []string{"-h"}, stdout, stdout)
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 0
	}
	fmt.Fprintf(stdout, "switchboard %s: %v\n", c.name, err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: switchboard COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'switchboard COMMAND -h' (or 'switchboard help COMMAND') for a command's flags;\n'switchboard --version' prints the version.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("switchboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, mapping a parse failure to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
