package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ErrUsage means the arguments were wrong; the problem was printed.
var ErrUsage = errors.New("usage")

// Scenarios.
const (
	Fanout    = "fanout"
	Connect   = "connect"
	Roundtrip = "roundtrip"
	Idle      = "idle"
)

var scenarios = []string{Fanout, Connect, Roundtrip, Idle}

// How the receivers of fanout and roundtrip enter the room (--fill).
const (
	// FillJoin: each receiver sends joinRoom, as a client does.
	FillJoin = "join"
	// FillStore: the receivers only connect; the bench writes their
	// memberships into the nodes' shared store itself. Today a join reads
	// the room's members (O(N) on PostgreSQL and DynamoDB), so filling a
	// room of tens of thousands by joins takes very long; the broadcast
	// measured afterwards is the same.
	FillStore = "store"
)

// The phase of fanout that --profile covers
// (--profile-phase).
const (
	// ProfileSend: the messages, from the first send to the last delivery.
	ProfileSend = "send"
	// ProfileJoin: the receivers connecting and joining the room; the heap
	// profile written at its end is of the filled room.
	ProfileJoin = "join"
)

// Stores of spawned nodes (switchboard dev --store).
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
	StoreDynamoDB = "dynamodb"
)

// DefaultConnsPerUser is how many receivers of fanout and roundtrip share
// a user by default past 10,000 receivers (100 users below): the chat
// allows a user 200 connections (chat.DefaultMaxConnectionsPerUser).
const DefaultConnsPerUser = 100

// envPostgresURL is the default of --postgres-url, as for switchboard dev.
const envPostgresURL = "SWITCHBOARD_POSTGRES_URL"

// Config is one bench run.
type Config struct {
	Scenario string

	URL     string  // a running switchboard dev (or baseline with Target baseline)
	Data    string  // the data directory of that switchboard dev (tokens)
	PID     int     // that server's process id, for memory figures
	Spawn   bool    // start switchboard dev as a child process
	Target  string  // switchboard or baseline
	Compare bool    // run against switchboard and the baseline, print ratios
	Rate    float64 // messages per second (0: as fast as Inflight allows)

	Conns       int
	Members     int
	Messages    int
	Duration    time.Duration
	Concurrency int
	Users       int
	Tenants     int
	Size        int // bytes of padding in each message's content
	Inflight    int
	Senders     int
	Workers     int
	PerWorker   int
	Timeout     time.Duration
	Bin         time.Duration
	ConnectRate float64 // of a spawned server; negative: no limit
	Repeat      int

	// Several nodes (docs/cluster.md).
	Nodes            int      // spawned switchboard dev nodes in one cluster (1: no cluster)
	URLs             []string // --url with several comma-separated nodes of a running cluster
	Store            string   // the spawned nodes' store: sqlite, postgres or dynamodb
	PostgresURL      string   // with Store postgres
	DynamoDBEndpoint string   // with Store dynamodb
	Table            string   // with Store dynamodb
	Fill             string   // fanout, roundtrip: how the receivers enter the room (FillJoin, FillStore)
	BesideOneNode    bool     // fanout with several nodes: alternate with a room of as many receivers on node 1

	JSON    bool
	Report  string
	Label   string
	Profile string
	// ProfilePhase is the phase of fanout that --profile
	// covers: ProfileSend (the default) or ProfileJoin.
	ProfilePhase string
	NoProgress   bool

	// Targets, when set, are used instead of reaching or starting servers
	// (tests pass in-process servers here).
	Targets []*Target
	// Exe and ExeArgs re-execute this binary for worker and server child
	// processes: Exe ExeArgs... __worker. Default: os.Executable() bench.
	Exe     string
	ExeArgs []string
	// Command is the command line, for the report.
	Command string

	set map[string]bool // flags given explicitly
}

func (c *Config) label() string {
	if c.Label != "" {
		return c.Label
	}
	return c.Scenario
}

// targets are the targets of the run, in order.
func (c *Config) targets() []string {
	if c.Compare && c.clustered() {
		return []string{TargetCluster, TargetSwitchboard}
	}
	if c.clustered() {
		return []string{TargetCluster}
	}
	if c.Compare {
		return []string{TargetSwitchboard, TargetBaseline}
	}
	return []string{c.Target}
}

// receivers is the number of lean receiving connections.
func (c *Config) receivers() int {
	if c.Scenario == Roundtrip {
		return c.Members - c.Senders
	}
	return c.Conns
}

const usageText = `Usage: switchboard bench SCENARIO [flags]

Load-tests switchboard dev (and a baseline server that does the least any
WebSocket server must) from this machine.

Scenarios:
  fanout     --conns N connections join one room; a sender sends --messages M
             (at --rate R/s, or as fast as --inflight allows): delivery latency,
             deliveries/s, time to the last delivery of each message
  connect    open --conns N connections with valid tokens, --concurrency C at a
             time: connects/s, handshake latency, failures by cause
  roundtrip  sendMessage at --rate R/s for --duration into a room of --members K:
             acknowledgement and delivery latency
  idle       hold --conns N idle connections for --duration: server memory per
             connection (VmRSS, RssAnon from /proc/PID/status; heap, stacks and
             goroutines from switchboard's GET /metrics, which also gives the
             resident memory of a --url server without --pid)

Targets:
  --spawn (the default)  start switchboard dev as a child process on a free port
  --url URL --data DIR   a running switchboard dev (tokens minted with DIR/dev-secret)
  --url URL1,URL2,URL3 --data DIR
                         the nodes of a running cluster sharing DIR's dev secret;
                         the clients are spread over them round robin
  --nodes N --store postgres --postgres-url URL (or --store dynamodb
             --dynamodb-endpoint URL)
                         spawn N switchboard dev nodes in one cluster (embedded
                         NATS on loopback routes) on that shared store; the
                         clients are spread over them round robin
  --target baseline      the baseline server (a child process)
  --compare              switchboard, then the baseline, in the same run: ratios;
                         with --nodes N: the N-node cluster, then one node on the
                         same store, alternating: ratios cluster / one node

Flags:
`

// ParseArgs parses `switchboard bench` arguments: the scenario first (or
// anywhere among the flags), then flags. Problems are printed to stderr and
// returned as ErrUsage.
func ParseArgs(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{set: map[string]bool{}}
	fs := flag.NewFlagSet("switchboard bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.URL, "url", "", "WebSocket URL of a running switchboard dev, e.g. ws://127.0.0.1:8080/dev")
	fs.StringVar(&c.Data, "data", "", "with --url: the data directory of that switchboard dev (its dev-secret signs the tokens)")
	fs.IntVar(&c.PID, "pid", 0, "with --url: the server's process id, to read its memory from /proc/PID/status (without it, switchboard's memory is read from its GET /metrics)")
	fs.BoolVar(&c.Spawn, "spawn", false, "start switchboard dev as a child process (the default without --url)")
	fs.StringVar(&c.Target, "target", TargetSwitchboard, "switchboard or baseline")
	fs.BoolVar(&c.Compare, "compare", false, "run against switchboard and then the baseline, and print the ratios")
	fs.IntVar(&c.Conns, "conns", 0, "connections (fanout: receivers; default fanout 1000, connect 5000, idle 10000)")
	fs.IntVar(&c.Members, "members", 100, "roundtrip: members of the room, the sender included")
	fs.IntVar(&c.Messages, "messages", 0, "messages to send (fanout default 100; roundtrip: rate x duration)")
	fs.Float64Var(&c.Rate, "rate", -1, "messages per second; 0: as fast as --inflight allows (fanout default 0, roundtrip 500)")
	fs.DurationVar(&c.Duration, "duration", 0, "roundtrip: how long to send (default 10s); idle: how long to hold (default 30s)")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "handshakes (and joins) in flight at once")
	fs.IntVar(&c.Users, "users", 0, "distinct users the connections belong to (default: fanout/roundtrip 100, or one per 100 receivers past 10,000; connect/idle one per connection)")
	fs.IntVar(&c.Tenants, "tenants", 0, "connect/idle: tenants the users are spread over (default: one per connection, so that no presence broadcast reaches anyone)")
	fs.IntVar(&c.Size, "size", 0, "bytes of padding added to each message's content (the content limit is 4 KB)")
	fs.IntVar(&c.Inflight, "inflight", 0, "sends awaiting their reply at most (0: 16 with --rate 0, else unbounded)")
	fs.IntVar(&c.Senders, "senders", 1, "sending connections (SDK clients), messages spread round robin")
	fs.IntVar(&c.Workers, "workers", 0, "child processes holding the client connections (0: this process up to --per-worker connections, else enough children)")
	fs.IntVar(&c.PerWorker, "per-worker", 15000, "client connections per process at most (the open-file limit is 20,000 per process)")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "handshake, join and request timeout; also how long to wait for deliveries after the last send")
	fs.DurationVar(&c.Bin, "bin", 100*time.Millisecond, "width of the time bins of the throughput series")
	fs.Float64Var(&c.ConnectRate, "connect-rate", -1, "connect rate limit of a spawned switchboard dev per second (0: the default 500; negative: none)")
	fs.IntVar(&c.Repeat, "repeat", 1, "run the scenario this many times (with --compare: alternating), figures are medians")
	fs.BoolVar(&c.JSON, "json", false, "print the result as JSON instead of a table")
	fs.StringVar(&c.Report, "report", "", "write the JSON result and PNG charts into this directory")
	fs.StringVar(&c.Label, "label", "", "file name prefix in --report and --profile (default: the scenario)")
	fs.StringVar(&c.Profile, "profile", "", "write CPU profiles of the spawned servers, over the measured phase only, into this directory (LABEL-devserver.pprof, LABEL-baseline.pprof)")
	fs.StringVar(&c.ProfilePhase, "profile-phase", ProfileSend, "fanout: the phase --profile covers: send (the messages) or join (the receivers connecting and joining; the heap profile is then of the filled room)")
	fs.BoolVar(&c.NoProgress, "no-progress", false, "no progress bar, even on a terminal")
	fs.IntVar(&c.Nodes, "nodes", 1, "spawn this many switchboard dev nodes joined in one cluster (embedded NATS); more than 1 needs --store postgres or dynamodb")
	fs.StringVar(&c.Store, "store", StoreSQLite, "the store of the spawned nodes: sqlite, postgres (--postgres-url) or dynamodb (--dynamodb-endpoint)")
	fs.StringVar(&c.PostgresURL, "postgres-url", os.Getenv(envPostgresURL), "with --store postgres: the database the nodes share (default $"+envPostgresURL+")")
	fs.StringVar(&c.DynamoDBEndpoint, "dynamodb-endpoint", "", "with --store dynamodb: the endpoint, e.g. DynamoDB Local at http://127.0.0.1:8000")
	fs.StringVar(&c.Table, "table", "switchboard", "with --store dynamodb: the table (created if missing)")
	fs.BoolVar(&c.BesideOneNode, "beside-one-node", false, "fanout with --nodes N (or several --url): a second room of --conns receivers all on node 1, and the messages alternate between the two rooms in one run: the spread room beside the one-node room, with their ratio")
	fs.StringVar(&c.Fill, "fill", FillJoin, "fanout, roundtrip: how the receivers enter the room: join (each sends joinRoom) or store (they only connect, and the bench writes their memberships into the shared store: fast for rooms of tens of thousands)")

	// The scenario may come first or after the flags.
	rest := args
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		c.Scenario = rest[0]
		rest = rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, ErrUsage
	}
	if fs.NArg() > 0 {
		if c.Scenario == "" {
			c.Scenario = fs.Arg(0)
		}
		if fs.NArg() > 1 || c.Scenario != fs.Arg(0) {
			return nil, usageError(stderr, "unexpected argument %q", fs.Arg(fs.NArg()-1))
		}
	}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if err := c.finish(stderr); err != nil {
		return nil, err
	}
	c.Command = "switchboard bench " + strings.Join(args, " ")
	return c, nil
}

func usageError(w io.Writer, format string, args ...any) error {
	fmt.Fprintf(w, "switchboard bench: "+format+"\n", args...)
	fmt.Fprintln(w, "Run 'switchboard bench -h' for the flags.")
	return ErrUsage
}

// finish applies the scenario's defaults and checks the combination.
func (c *Config) finish(stderr io.Writer) error {
	bad := func(format string, args ...any) error { return usageError(stderr, format, args...) }
	switch c.Scenario {
	case "":
		return bad("which scenario? want one of %s", strings.Join(scenarios, ", "))
	case Fanout, Connect, Roundtrip, Idle:
	default:
		return bad("unknown scenario %q: want one of %s", c.Scenario, strings.Join(scenarios, ", "))
	}
	if c.Target != TargetSwitchboard && c.Target != TargetBaseline {
		return bad("--target %q: want switchboard or baseline", c.Target)
	}
	if c.URL != "" && c.Spawn {
		return bad("--url and --spawn exclude each other")
	}
	if c.URL != "" && !strings.HasPrefix(c.URL, "ws://") && !strings.HasPrefix(c.URL, "wss://") {
		return bad("--url %q: want ws://HOST:PORT/STAGE", c.URL)
	}
	if err := c.finishNodes(stderr); err != nil {
		return err
	}
	if c.URL != "" && c.Target == TargetSwitchboard && c.Data == "" && len(c.Targets) == 0 {
		return bad("--url needs --data DIR: the data directory of that switchboard dev, whose dev-secret signs the tokens")
	}
	if c.Data != "" && c.URL == "" {
		return bad("--data goes with --url")
	}
	if c.PID != 0 && c.URL == "" {
		return bad("--pid goes with --url (a spawned server's memory is read anyway)")
	}
	if c.Compare && c.Target == TargetBaseline {
		return bad("--compare runs switchboard and the baseline; leave out --target baseline")
	}
	if c.Compare && c.URL != "" && len(c.URLs) > 1 {
		return bad("--compare with several --url nodes: spawn them with --nodes to compare with one node")
	}
	if c.Compare && c.URL != "" && c.set["target"] {
		return bad("--compare with --url: --url is the switchboard target; the baseline is spawned")
	}
	if c.ProfilePhase != ProfileSend && c.ProfilePhase != ProfileJoin {
		return bad("--profile-phase must be %s or %s", ProfileSend, ProfileJoin)
	}
	if c.Profile != "" && c.URL != "" && !c.Compare {
		return bad("--profile profiles spawned servers; a server given with --url is not spawned")
	}
	if c.set["conns"] && c.Conns <= 0 {
		return bad("--conns must be positive")
	}
	if c.set["rate"] && c.Scenario != Fanout && c.Scenario != Roundtrip {
		return bad("--rate is for fanout and roundtrip")
	}
	// Scenario defaults.
	switch c.Scenario {
	case Fanout:
		c.Conns = or(c.Conns, 1000)
		c.Messages = or(c.Messages, 100)
		if c.Rate < 0 {
			c.Rate = 0
		}
	case Roundtrip:
		if c.Rate < 0 {
			c.Rate = 500
		}
		if c.Duration == 0 {
			c.Duration = 10 * time.Second
		}
		if c.Messages == 0 {
			if c.Rate == 0 {
				return bad("roundtrip needs --rate > 0 (or --messages)")
			}
			c.Messages = max(1, int(c.Rate*c.Duration.Seconds()))
		}
	case Connect:
		c.Conns = or(c.Conns, 5000)
	case Idle:
		c.Conns = or(c.Conns, 10000)
		if c.Duration == 0 {
			c.Duration = 30 * time.Second
		}
	}
	if c.Scenario == Connect || c.Scenario == Idle {
		c.Rate = 0
	}
	switch {
	case c.Conns < 0:
		return bad("--conns must be positive")
	case (c.Scenario == Fanout || c.Scenario == Connect || c.Scenario == Idle) && c.Conns == 0:
		return bad("--conns must be positive")
	case c.Messages < 0:
		return bad("--messages must be positive")
	case c.Rate < 0:
		return bad("--rate must not be negative")
	case c.Duration < 0:
		return bad("--duration must be positive")
	case c.Concurrency <= 0:
		return bad("--concurrency must be positive")
	case c.Users < 0, c.Tenants < 0:
		return bad("--users and --tenants must not be negative")
	case c.Size < 0 || c.Size > 4000:
		return bad("--size must be between 0 and 4000 bytes (the content limit is 4 KB)")
	case c.Inflight < 0:
		return bad("--inflight must not be negative")
	case c.Senders < 1:
		return bad("--senders must be at least 1")
	case c.Workers < 0:
		return bad("--workers must not be negative")
	case c.PerWorker < 1 || c.PerWorker > 19000:
		return bad("--per-worker must be between 1 and 19000 (the open-file limit is 20,000 per process)")
	case c.Timeout <= 0:
		return bad("--timeout must be positive")
	case c.Bin < time.Millisecond:
		return bad("--bin must be at least 1ms")
	case c.Repeat < 1:
		return bad("--repeat must be at least 1")
	}
	if c.Scenario == Roundtrip && c.Members < c.Senders+1 {
		return bad("--members must be at least --senders + 1 (the sender is a member)")
	}
	if c.set["members"] && c.Scenario != Roundtrip {
		return bad("--members is for roundtrip; fanout takes --conns")
	}
	if c.set["tenants"] && (c.Scenario == Fanout || c.Scenario == Roundtrip) {
		return bad("--tenants is for connect and idle: a room's members share its tenant")
	}
	if c.Scenario == Fanout || c.Scenario == Roundtrip {
		if c.Users == 0 {
			// 100 users, or past 10,000 receivers 100 connections each:
			// the chat refuses a user's 201st connection (429).
			n := c.receivers()
			if c.BesideOneNode {
				n *= 2 // the two rooms' receivers share the users
			}
			c.Users = min(c.receivers(), max(100, (n+DefaultConnsPerUser-1)/DefaultConnsPerUser))
		}
		if c.Users > c.receivers() {
			return bad("--users (%d) is more than the receiving connections (%d)", c.Users, c.receivers())
		}
		if c.Inflight == 0 && c.Rate == 0 {
			c.Inflight = 16
		}
	} else {
		if c.Users == 0 {
			c.Users = c.Conns
		}
		if c.Tenants == 0 {
			c.Tenants = c.Conns
		}
	}
	// One server process holds at most fdLimit connections.
	total := c.receivers() + c.Senders
	if c.Scenario == Connect || c.Scenario == Idle {
		total = c.Conns
	}
	// Spread round robin, node 0 holds the most (and the senders).
	perNode := (total + c.Nodes - 1) / c.Nodes
	if c.BesideOneNode {
		perNode += c.Conns // node 0 also holds the one-node room
	}
	if c.Compare && c.clustered() {
		perNode = total // the one-node comparison holds them all
	}
	if lim := fdLimit(); c.URL == "" && perNode > lim-200 {
		if c.Nodes > 1 {
			return bad("%d connections over %d nodes do not fit: each node is one process, its open-file limit is %d (ulimit -Hn); at most %d per node", total, c.Nodes, lim, lim-200)
		}
		return bad("%d connections do not fit in one server process: its open-file limit is %d (ulimit -Hn), and switchboard dev is one process; at most %d (spread them over several with --nodes)", total, lim, lim-200)
	}
	if c.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this program: %w", err)
		}
		c.Exe, c.ExeArgs = exe, []string{"bench"}
	}
	return nil
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// workerCount is how many worker processes hold n connections, and whether
// they run in this process.
func (c *Config) workerCount(n int) (int, bool) {
	if c.Workers > 0 {
		return c.Workers, false
	}
	if n <= c.PerWorker {
		return 1, true
	}
	return (n + c.PerWorker - 1) / c.PerWorker, false
}
