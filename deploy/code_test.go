package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/internal/lambdaapp"
)

// storeOperations are the DynamoDB API calls store/dynamo makes on request
// paths. Source: TestOperations (store/dynamo/ops_test.go), which records
// the operations of every store.Store method (GetItem, Query,
// TransactWriteItems, UpdateItem, PutItem), plus BatchWriteItem, which
// CreateRoom and DeleteConnection use past 99 members or 48 rooms
// (docs/store.md) and TestOperations does not reach. The sweeper's Scan and
// DeleteItem (sweep.go: DeleteExpired, for DynamoDB Local and dev stacks)
// are not among them: on AWS, TTL deletes. store/dynamo exports no such
// list; TestStoreOperations compares this one with the s.db.<Op>( calls of
// store/dynamo/*.go, so that it cannot drift.
var storeOperations = []string{"BatchWriteItem", "GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"}

// transactItemKinds are the members of types.TransactWriteItem the store
// fills (also checked against the code by TestStoreOperations).
var transactItemKinds = []string{"Delete", "Put", "Update"}

// sweeperFile holds the Sweeper, whose operations (Scan, DeleteItem) only
// DynamoDB Local and dev stacks run.
const sweeperFile = "sweep.go"

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

// repoRoot is the repository's root directory.
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

// expected derives what the deployments must provide from the code.
func expected(t testing.TB) expectations {
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
	return x
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
// store/dynamo, and the members of every types.TransactWriteItem literal.
func dbCalls(t testing.TB) (ops map[string][]string, kinds []string) {
	_, files := goFiles(t, filepath.Join(repoRoot(t), "store", "dynamo"))
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
// the DynamoDB calls of store/dynamo, and the sweeper off the Lambda path.
func TestStoreOperations(t *testing.T) {
	ops, kinds := dbCalls(t)
	request := map[string]bool{}
	for file, calls := range ops {
		for _, op := range calls {
			if file == sweeperFile {
				if op != "Scan" && op != "DeleteItem" {
					t.Errorf("store/dynamo/%s: s.db.%s( in the sweeper: the deployments grant only Scan-free request-path operations; if the Lambda path needs it, add it to storeOperations (deploy/code_test.go) and to the IAM of deploy/terraform and deploy/sam", file, op)
				}
				continue
			}
			request[op] = true
		}
	}
	if got := slices.Sorted(maps.Keys(request)); !slices.Equal(got, storeOperations) {
		t.Errorf("store/dynamo/*.go call s.db.%v, but deploy/code_test.go storeOperations is %v: update it, then the IAM of deploy/terraform/modules/switchboard/iam.tf and deploy/sam/template.yaml (TableAndConnectionsPolicy)", got, storeOperations)
	}
	if !slices.Equal(kinds, transactItemKinds) {
		t.Errorf("store/dynamo/*.go fill types.TransactWriteItem members %v, but deploy/code_test.go transactItemKinds is %v: update it and the IAM of the deployments", kinds, transactItemKinds)
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
	t.Logf("routes %d, table %v, indexes %v, @connections %v", len(x.routes), x.tableActions, x.indexActions, x.connMethods)
}
