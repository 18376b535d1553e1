package deploy_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/internal/lambdaapp"
	"github.com/switchboard-ws/switchboard/queue"
)

// storeOperations are the DynamoDB API calls chat/store/dynamo makes on request
// paths. Source: TestOperations (chat/store/dynamo/ops_test.go), which records
// the operations of every store.Store method (GetItem, Query,
// TransactWriteItems, UpdateItem, PutItem), plus BatchWriteItem, which
// CreateRoom and DeleteConnection use past 99 members or 48 rooms
// (docs/store.md) and TestOperations does not reach. (ReleaseMembership's
// delete of a room's last hold is a transaction now, with a check that the
// connection did not join again: a Delete item, which IAM authorizes as
// dynamodb:DeleteItem, as before.) The Scan and DeleteItem of
// the sweeper (sweep.go: DeleteExpired) and of a dead cluster node's
// clean-up (node.go: DeleteNodeConnections), for DynamoDB Local and dev
// stacks, are not among them: on AWS, TTL deletes, and there is no cluster. chat/store/dynamo exports no such
// list; TestStoreOperations compares this one with the s.db.<Op>( calls of
// chat/store/dynamo/*.go, so that it cannot drift.
var storeOperations = []string{"BatchWriteItem", "GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"}

// transactItemKinds are the members of types.TransactWriteItem the store
// fills (also checked against the code by TestStoreOperations).
var transactItemKinds = []string{"ConditionCheck", "Delete", "Put", "Update"}

// devOnlyFiles hold the Sweeper and the dead-node clean-up, whose
// operations (Scan, DeleteItem) only DynamoDB Local and dev stacks run.
var devOnlyFiles = map[string]bool{"sweep.go": true, "node.go": true}

// iamActions are the IAM actions that authorize each DynamoDB operation.
// Transactions are authorized per item (DynamoDB developer guide, "Using
// IAM with DynamoDB transactions"): see transactIAM.
var iamActions = map[string][]string{
	"GetItem":          {"dynamodb:GetItem"},
	"Query":            {"dynamodb:Query"},
	"PutItem":          {"dynamodb:PutItem"},
	"UpdateItem":       {"dynamodb:UpdateItem"},
	"DeleteItem":       {"dynamodb:DeleteItem"},
	"Scan":             {"dynamodb:Scan"},
	"BatchWriteItem":   {"dynamodb:BatchWriteItem"},
	"BatchGetItem":     {"dynamodb:BatchGetItem"},
	"TransactGetItems": {"dynamodb:GetItem"},
}

var transactIAM = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
	"ConditionCheck": "dynamodb:ConditionCheckItem",
}

// connectionMethods maps the @connections API calls to the HTTP method
// that execute-api:ManageConnections resources name.
var connectionMethods = map[string]string{
	"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE",
}

// sqsIAM maps the SQS API operations to the IAM actions that authorize
// them (the batch calls are authorized as their single forms).
var sqsIAM = map[string]string{
	"SendMessage": "sqs:SendMessage", "SendMessageBatch": "sqs:SendMessage",
	"ReceiveMessage": "sqs:ReceiveMessage",
	"DeleteMessage":  "sqs:DeleteMessage", "DeleteMessageBatch": "sqs:DeleteMessage",
	"ChangeMessageVisibility": "sqs:ChangeMessageVisibility", "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"GetQueueAttributes": "sqs:GetQueueAttributes", "GetQueueUrl": "sqs:GetQueueUrl",
	"PurgeQueue": "sqs:PurgeQueue", "StartMessageMoveTask": "sqs:StartMessageMoveTask",
}

// sqsPollActions are what a Lambda event source mapping calls on the queue
// with the function's role (the actions of AWSLambdaSQSQueueExecutionRole).
var sqsPollActions = []string{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}

// modulePath is the module of the repository.
const modulePath = "github.com/switchboard-ws/switchboard"

// lambdaPath returns the packages of the Lambda binary (cmd/bootstrap and
// every package of this module it imports, directly or not), relative to
// the repository root: those whose SQS calls the deployments must grant.
func lambdaPath(t testing.TB, alt map[string]string) []string {
	seen := map[string]bool{}
	var walk func(pkg string)
	walk = func(pkg string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		paths, _ := filepath.Glob(filepath.Join(codeDir(t, alt, pkg), "*.go"))
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range f.Imports {
				path, _ := strconv.Unquote(im.Path.Value)
				if rest, ok := strings.CutPrefix(path, modulePath+"/"); ok {
					walk(rest)
				}
			}
		}
	}
	walk("cmd/bootstrap")
	return slices.Sorted(maps.Keys(seen))
}

// repoRoot is the repository's root directory.
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

// expected derives what the deployments must provide from the code.
func expected(t testing.TB) expectations { return expectedIn(t, nil) }

// codeDir is the directory of a package of the repository, or its stand-in
// in alt (for the tests of these derivations).
func codeDir(t testing.TB, alt map[string]string, pkg string) string {
	if d, ok := alt[pkg]; ok {
		return d
	}
	return filepath.Join(repoRoot(t), filepath.FromSlash(pkg))
}

// expectedIn derives the expectations from the code, with the packages of
// alt read from other directories.
func expectedIn(t testing.TB, alt map[string]string) expectations {
	x := expectations{
		handlers: slices.Clone(lambdaapp.Handlers),
		env:      slices.Clone(lambdaapp.Env),
		routes:   map[string]string{"$connect": "connect", "$disconnect": "disconnect", "$default": "message"},
	}
	for _, a := range chat.Actions() {
		x.routes[a] = "message"
	}
	table := map[string]bool{}
	for _, op := range storeOperations {
		if op == "TransactWriteItems" {
			for _, k := range transactItemKinds {
				table[transactIAM[k]] = true
			}
			continue
		}
		acts, ok := iamActions[op]
		if !ok {
			t.Fatalf("deploy/code_test.go: no IAM actions known for the DynamoDB operation %s: add it to iamActions", op)
		}
		for _, a := range acts {
			table[a] = true
		}
	}
	x.tableActions = slices.Sorted(maps.Keys(table))
	// An index can only be queried or scanned.
	for _, a := range x.tableActions {
		if a == "dynamodb:Query" || a == "dynamodb:Scan" {
			x.indexActions = append(x.indexActions, a)
		}
	}
	methods := map[string]bool{}
	for _, call := range connectionCalls(t) {
		methods[connectionMethods[call]] = true
	}
	x.connMethods = slices.Sorted(maps.Keys(methods))

	// SQS: the actions of the calls the binary makes, for the handlers that
	// broadcast; the polling actions for the handler of SQS events.
	send := map[string]bool{}
	for op, files := range sqsCalls(t, alt) {
		act, ok := sqsIAM[op]
		if !ok {
			t.Fatalf("%s call SQS %s, for which deploy/code_test.go knows no IAM action: add it to sqsIAM, then grant it in deploy/terraform/modules/switchboard/iam.tf and deploy/sam/template.yaml", strings.Join(files, ", "), op)
		}
		send[act] = true
	}
	x.sendActions = slices.Sorted(maps.Keys(send))
	x.pollActions = slices.Clone(sqsPollActions)
	x.broadcasters, x.consumer = queueHandlers(t, alt)
	x.maxReceiveCount, x.eventBatchSize = localQueueDefaults(t)
	return x
}

// sqsOperations are the operations of the SQS API: the methods of
// *sqs.Client but Options.
func sqsOperations() map[string]bool {
	ops := map[string]bool{}
	ty := reflect.TypeOf(&sqs.Client{})
	for i := range ty.NumMethod() {
		if m := ty.Method(i).Name; m != "Options" {
			ops[m] = true
		}
	}
	return ops
}

// sqsCalls returns the SQS operations the Lambda path calls (X.<Op>( in
// the files that import the SQS client) or declares in an interface (such
// as queue.SQSAPI, what lambdaapp hands queue.NewSQS), each with the files.
func sqsCalls(t testing.TB, alt map[string]string) map[string][]string {
	ops := sqsOperations()
	out := map[string][]string{}
	add := func(op, where string) {
		if !slices.Contains(out[op], where) {
			out[op] = append(out[op], where)
		}
	}
	for _, pkg := range lambdaPath(t, alt) {
		_, files := goFiles(t, codeDir(t, alt, pkg))
		for name, f := range files {
			imports := false
			for _, im := range f.Imports {
				imports = imports || im.Path.Value == strconv.Quote("github.com/aws/aws-sdk-go-v2/service/sqs")
			}
			if !imports {
				continue
			}
			where := pkg + "/" + name
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && ops[sel.Sel.Name] {
						if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "sqs" { // sqs.NewFromConfig and the like
							add(sel.Sel.Name, where)
						}
					}
				case *ast.InterfaceType:
					for _, m := range n.Methods.List {
						for _, id := range m.Names {
							if ops[id.Name] {
								add(id.Name, where)
							}
						}
					}
				}
				return true
			})
		}
	}
	return out
}

// queueHandlers derives from the code which handlers broadcast through the
// fan-out queue and which consumes it. lambdaapp.Handler gives each
// handler's chat.Service method; a handler broadcasts through the queue if
// its method reaches (by name, through calls and references in package
// chat) a function that uses the Config's Queue; the consumer's method
// takes an events.SQSEvent.
func queueHandlers(t testing.TB, alt map[string]string) (broadcasters []string, consumer string) {
	methods := handlerMethods(t, alt)
	_, files := goFiles(t, codeDir(t, alt, "chat"))
	refs := map[string]map[string]bool{} // function, method or package variable -> names it mentions
	usesQueue := map[string]bool{}
	takesSQS := map[string]bool{}
	var imported map[string]bool // the package names the current file imports
	mentions := func(name string, n ast.Node) {
		if refs[name] == nil {
			refs[name] = map[string]bool{}
		}
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				refs[name][n.Name] = true
			case *ast.SelectorExpr:
				// errors.New is not chat's New: another package's names
				// are not followed.
				if x, ok := n.X.(*ast.Ident); ok && imported[x.Name] {
					return false
				}
				refs[name][n.Sel.Name] = true
				if in, ok := n.X.(*ast.SelectorExpr); ok && in.Sel.Name == "cfg" && n.Sel.Name == "Queue" {
					usesQueue[name] = true
				}
			}
			return true
		})
	}
	for _, f := range files {
		imported = map[string]bool{}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			n := path.Base(p)
			if im.Name != nil {
				n = im.Name.Name
			}
			imported[n] = true
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Body == nil {
					continue
				}
				mentions(d.Name.Name, d.Body)
				for _, p := range d.Type.Params.List {
					if sel, ok := p.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "SQSEvent" {
						takesSQS[d.Name.Name] = true
					}
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					if vs, ok := sp.(*ast.ValueSpec); ok {
						for _, id := range vs.Names {
							for _, v := range vs.Values {
								mentions(id.Name, v)
							}
						}
					}
				}
			}
		}
	}
	if len(usesQueue) == 0 {
		t.Fatalf("package chat: no function uses cfg.Queue: deploy/code_test.go cannot tell which handlers queue broadcasts")
	}
	reaches := func(from string) bool {
		seen := map[string]bool{}
		var walk func(string) bool
		walk = func(n string) bool {
			if seen[n] {
				return false
			}
			seen[n] = true
			if usesQueue[n] {
				return true
			}
			for m := range refs[n] {
				if refs[m] != nil && walk(m) {
					return true
				}
			}
			return false
		}
		return walk(from)
	}
	for _, h := range lambdaapp.Handlers {
		m, ok := methods[h]
		if !ok {
			t.Fatalf("internal/lambdaapp: no chat.Service method found for the handler %q in Handler: deploy/code_test.go cannot tell what it does", h)
		}
		if refs[m] == nil {
			t.Fatalf("package chat: no method %s (the %s handler's)", m, h)
		}
		if reaches(m) {
			broadcasters = append(broadcasters, h)
		}
		if takesSQS[m] {
			if consumer != "" {
				t.Fatalf("package chat: both %s and %s take events.SQSEvent", methods[consumer], m)
			}
			consumer = h
		}
	}
	sort.Strings(broadcasters)
	return broadcasters, consumer
}

// handlerMethods reads lambdaapp.Handler: for each handler (a case of the
// switch on c.Handler, or an if on c.Handler == "..."), the method of the
// chat.Service it returns.
func handlerMethods(t testing.TB, alt map[string]string) map[string]string {
	_, files := goFiles(t, codeDir(t, alt, "internal/lambdaapp"))
	out := map[string]string{}
	returned := func(handlers []string, body []ast.Stmt) {
		for _, st := range body {
			ast.Inspect(st, func(n ast.Node) bool {
				if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) > 0 {
					if sel, ok := r.Results[0].(*ast.SelectorExpr); ok && ast.IsExported(sel.Sel.Name) {
						for _, h := range handlers {
							out[h] = sel.Sel.Name
						}
					}
				}
				return true
			})
		}
	}
	isHandler := func(e ast.Expr) bool {
		sel, ok := e.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "Handler"
	}
	lit := func(e ast.Expr) (string, bool) {
		b, ok := e.(*ast.BasicLit)
		if !ok || b.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(b.Value)
		return s, err == nil
	}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != "Handler" || fd.Recv != nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SwitchStmt:
					if n.Tag != nil && isHandler(n.Tag) {
						for _, c := range n.Body.List {
							cc := c.(*ast.CaseClause)
							var hs []string
							for _, e := range cc.List {
								if s, ok := lit(e); ok {
									hs = append(hs, s)
								}
							}
							returned(hs, cc.Body)
						}
					}
				case *ast.IfStmt:
					if be, ok := n.Cond.(*ast.BinaryExpr); ok && be.Op == token.EQL && isHandler(be.X) {
						if s, ok := lit(be.Y); ok {
							returned([]string{s}, n.Body.List)
						}
					}
				}
				return true
			})
		}
	}
	return out
}

// localQueueDefaults runs queue.Local, the queue `switchboard dev` runs
// with SQS's semantics, with its defaults: how often it delivers a message
// that always fails before dead-lettering it (the redrive policy's
// maxReceiveCount), and how many records one invocation gets (the event
// source mapping's batch size).
func localQueueDefaults(t testing.TB) (maxReceives, batchSize int) {
	var mu sync.Mutex
	h := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		batchSize = max(batchSize, len(ev.Records))
		mu.Unlock()
		var r events.SQSEventResponse
		for _, rec := range ev.Records {
			r.BatchItemFailures = append(r.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
		return r, nil
	}
	q := queue.NewLocal(h, queue.LocalOptions{RetryDelay: time.Millisecond, Concurrency: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	bodies := make([][]byte, 25)
	for i := range bodies {
		bodies[i] = []byte(strconv.Itoa(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Send(ctx, bodies); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	dead := q.DeadLetters()
	if len(dead) != len(bodies) {
		t.Fatalf("queue.Local dead-lettered %d of %d messages that always failed", len(dead), len(bodies))
	}
	maxReceives = dead[0].Receives
	for _, d := range dead {
		if d.Receives != maxReceives {
			t.Fatalf("queue.Local dead-lettered messages after %d and %d receives", maxReceives, d.Receives)
		}
	}
	return maxReceives, batchSize
}

// goFiles parses the non-test Go files of a package directory.
func goFiles(t testing.TB, dir string) (*token.FileSet, map[string]*ast.File) {
	fset := token.NewFileSet()
	out := map[string]*ast.File{}
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = f
	}
	if len(out) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return fset, out
}

// dbCalls returns the operations called as X.db.<Op>( in each file of
// chat/store/dynamo, and the members of every types.TransactWriteItem literal.
func dbCalls(t testing.TB) (ops map[string][]string, kinds []string) {
	_, files := goFiles(t, filepath.Join(repoRoot(t), "chat", "store", "dynamo"))
	ops = map[string][]string{}
	kindSet := map[string]bool{}
	isTWI := func(e ast.Expr) bool {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		id, ok := sel.X.(*ast.Ident)
		return ok && id.Name == "types" && sel.Sel.Name == "TransactWriteItem"
	}
	var lit func(l *ast.CompositeLit, typ ast.Expr)
	lit = func(l *ast.CompositeLit, typ ast.Expr) {
		if isTWI(typ) {
			for _, el := range l.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok {
						kindSet[id.Name] = true
					}
				}
			}
			return
		}
		if arr, ok := typ.(*ast.ArrayType); ok {
			for _, el := range l.Elts {
				if inner, ok := el.(*ast.CompositeLit); ok && inner.Type == nil {
					lit(inner, arr.Elt)
				}
			}
		}
	}
	for name, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
					if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "db" {
						ops[name] = append(ops[name], sel.Sel.Name)
					}
				}
			case *ast.CompositeLit:
				if n.Type != nil {
					lit(n, n.Type)
				}
			}
			return true
		})
	}
	return ops, slices.Sorted(maps.Keys(kindSet))
}

// connectionCalls returns the @connections API calls of package push, the
// Pusher lambdaapp gives the handlers.
func connectionCalls(t testing.TB) []string {
	_, files := goFiles(t, filepath.Join(repoRoot(t), "push"))
	calls := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok && connectionMethods[sel.Sel.Name] != "" {
					calls[sel.Sel.Name] = true
				}
			}
			return true
		})
	}
	return slices.Sorted(maps.Keys(calls))
}

// TestStoreOperations keeps storeOperations and transactItemKinds equal to
// the DynamoDB calls of chat/store/dynamo, and the sweeper off the Lambda path.
func TestStoreOperations(t *testing.T) {
	t.Parallel()
	ops, kinds := dbCalls(t)
	request := map[string]bool{}
	for file, calls := range ops {
		for _, op := range calls {
			if devOnlyFiles[file] {
				if op != "Scan" && op != "DeleteItem" {
					t.Errorf("chat/store/dynamo/%s: s.db.%s( in the sweeper: the deployments grant only Scan-free request-path operations; if the Lambda path needs it, add it to storeOperations (deploy/code_test.go) and to the IAM of deploy/terraform and deploy/sam", file, op)
				}
				continue
			}
			request[op] = true
		}
	}
	if got := slices.Sorted(maps.Keys(request)); !slices.Equal(got, storeOperations) {
		t.Errorf("chat/store/dynamo/*.go call s.db.%v, but deploy/code_test.go storeOperations is %v: update it, then the IAM of deploy/terraform/modules/switchboard/iam.tf and deploy/sam/template.yaml (TableAndConnectionsPolicy)", got, storeOperations)
	}
	if !slices.Equal(kinds, transactItemKinds) {
		t.Errorf("chat/store/dynamo/*.go fill types.TransactWriteItem members %v, but deploy/code_test.go transactItemKinds is %v: update it and the IAM of the deployments", kinds, transactItemKinds)
	}
	for _, op := range storeOperations {
		if _, ok := iamActions[op]; !ok && op != "TransactWriteItems" {
			t.Errorf("deploy/code_test.go: no IAM actions known for %s", op)
		}
	}

	// The Lambda path (bootstrap -> lambdaapp -> chat, push) never sweeps.
	root := repoRoot(t)
	for _, dir := range []string{"cmd/bootstrap", "internal/lambdaapp", "chat", "push"} {
		_, files := goFiles(t, filepath.Join(root, dir))
		for name, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && (sel.Sel.Name == "DeleteExpired" || sel.Sel.Name == "Sweeper") {
					t.Errorf("%s/%s uses %s: the deployments grant no Scan (on AWS, TTL deletes)", dir, name, sel.Sel.Name)
				}
				return true
			})
		}
	}
}

// TestExpectations: what the checks compare the templates with is there.
func TestExpectations(t *testing.T) {
	t.Parallel()
	x := expected(t)
	if len(x.routes) != len(chat.Actions())+3 || len(chat.Actions()) == 0 {
		t.Errorf("routes %v", x.routes)
	}
	if len(x.connMethods) == 0 {
		t.Error("push makes no @connections call: the handlers could not reply")
	}
	if len(x.tableActions) == 0 || len(x.indexActions) == 0 {
		t.Errorf("table actions %v, index actions %v", x.tableActions, x.indexActions)
	}
	// Every handler but the authorizer broadcasts (fanout too: it queues the
	// unreached rest of a batch, and announces the connections it found
	// gone); fanout consumes the queue; queue.SQS sends with SendMessageBatch.
	if want := []string{"cleanup", "connect", "disconnect", "fanout", "message"}; !slices.Equal(x.broadcasters, want) {
		t.Errorf("broadcasting handlers %v, want %v", x.broadcasters, want)
	}
	if x.consumer != "fanout" {
		t.Errorf("the handler of SQS events is %q, want fanout", x.consumer)
	}
	if !slices.Equal(x.sendActions, []string{"sqs:SendMessage"}) {
		t.Errorf("SQS actions of the code %v, want [sqs:SendMessage]", x.sendActions)
	}
	if x.maxReceiveCount < 1 || x.eventBatchSize < 1 || x.eventBatchSize > 10 {
		t.Errorf("queue.Local: max receives %d, batch size %d", x.maxReceiveCount, x.eventBatchSize)
	}
	t.Logf("routes %d, table %v, indexes %v, @connections %v, SQS %v (poll %v), broadcasters %v, consumer %s, maxReceiveCount %d, batch %d",
		len(x.routes), x.tableActions, x.indexActions, x.connMethods, x.sendActions, x.pollActions, x.broadcasters, x.consumer, x.maxReceiveCount, x.eventBatchSize)
}

// copyPackage copies the non-test Go files of a package of the repository
// to a temporary directory, replacing old with new (exactly once) in file
// and adding the files of extra.
func copyPackage(t *testing.T, pkg, file, old, new string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	paths, _ := filepath.Glob(filepath.Join(repoRoot(t), filepath.FromSlash(pkg), "*.go"))
	done := file == ""
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == file {
			if strings.Count(string(b), old) != 1 {
				t.Fatalf("the mutation's text %q is not in %s/%s exactly once", old, pkg, file)
			}
			b, done = []byte(strings.Replace(string(b), old, new, 1)), true
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !done {
		t.Fatalf("no file %s/%s", pkg, file)
	}
	for name, src := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCodeDriftIsCaught changes the code the expectations are derived from
// in the ways that would need other permissions or settings, and expects
// the unchanged templates to be reported (or the derivation to refuse).
func TestCodeDriftIsCaught(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	tf := func(t *testing.T, x expectations) []string {
		return check(tfEvaluate(t, root, filepath.Join(root, tfModuleDir), tfScenarios(root)[0]), x)
	}
	const extraCall = `package queue

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func (q *SQS) extend(ctx context.Context) error {
	_, err := q.client.%s(ctx, &sqs.%sInput{})
	return err
}
`
	cases := []struct {
		name, pkg, file, old, new string
		extra                     map[string]string
		want                      string // a problem of the templates, or
		fatal                     string // the derivation's refusal
	}{
		{name: "queue.SQS also changes visibility", pkg: "queue",
			extra: map[string]string{"extend.go": fmt.Sprintf(extraCall, "ChangeMessageVisibility", "ChangeMessageVisibility")},
			want:  `aws_lambda_function.fn["message"]: SQS actions on the fan-out queue [sqs:SendMessage], want exactly [sqs:ChangeMessageVisibility sqs:SendMessage]`},
		{name: "SQSAPI gains a method", pkg: "queue", file: "sqs.go",
			old:  "type SQSAPI interface {\n",
			new:  "type SQSAPI interface {\n\tPurgeQueue(ctx context.Context, in *sqs.PurgeQueueInput, optFns ...func(*sqs.Options)) (*sqs.PurgeQueueOutput, error)\n",
			want: `aws_lambda_function.fn["cleanup"]: SQS actions on the fan-out queue [sqs:SendMessage], want exactly [sqs:PurgeQueue sqs:SendMessage]`},
		{name: "an SQS call without a known IAM action", pkg: "queue",
			extra: map[string]string{"extend.go": fmt.Sprintf(extraCall, "TagQueue", "TagQueue")},
			fatal: "SQS TagQueue, for which deploy/code_test.go knows no IAM action"},
		{name: "the authorizer broadcasts", pkg: "chat", file: "connect.go",
			old:  "events.APIGatewayCustomAuthorizerResponse, error) {\n",
			new:  "events.APIGatewayCustomAuthorizerResponse, error) {\n\t_ = s.cfg.Queue\n",
			want: `aws_lambda_function.fn["authorizer"]: no FANOUT_QUEUE_URL`},
		{name: "a handler lambdaapp does not map", pkg: "internal/lambdaapp", file: "lambdaapp.go",
			old: "\tcase \"fanout\":\n\t\treturn svc.Fanout, nil\n", new: "",
			fatal: `no chat.Service method found for the handler "fanout"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			alt := map[string]string{c.pkg: copyPackage(t, c.pkg, c.file, c.old, c.new, c.extra)}
			if c.fatal != "" {
				msg := expectFatal(t, func(tb testing.TB) { expectedIn(tb, alt) })
				if !strings.Contains(msg, c.fatal) {
					t.Errorf("derivation failed with %q, want %q", msg, c.fatal)
				}
				return
			}
			expectProblem(t, tf(t, expectedIn(t, alt)), c.want, tfModuleDir)
		})
	}
}
