package web

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storeTxFindings walks the non-test Go files of dir and returns every
// place that opens a store transaction or holds the store: a call of a
// method named View or Update whose last argument is a function taking a
// core.Tx, any use of the types core.Tx or core.Store, and any call of
// Store() (the engine's accessor for its store). Handlers call the engine;
// only the engine opens transactions, so that each write and its audit are
// one transaction and every rule sits in one place (issue 22.1).
func storeTxFindings(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		coreName := importName(f, "github.com/countersign/countersign/core")
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && coreName != "" && id.Name == coreName && (n.Sel.Name == "Tx" || n.Sel.Name == "Store") {
					out = append(out, fmt.Sprintf("%s: uses %s.%s", fset.Position(n.Pos()), coreName, n.Sel.Name))
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch {
				case sel.Sel.Name == "Store" && len(n.Args) == 0:
					out = append(out, fmt.Sprintf("%s: calls %s.Store()", fset.Position(n.Pos()), exprString(sel.X)))
				case (sel.Sel.Name == "View" || sel.Sel.Name == "Update") && len(n.Args) == 2:
					if _, isFunc := n.Args[1].(*ast.FuncLit); isFunc {
						out = append(out, fmt.Sprintf("%s: opens a transaction with %s.%s", fset.Position(n.Pos()), exprString(sel.X), sel.Sel.Name))
					}
				}
			}
			return true
		})
	}
	return out
}

// importName returns the name file f uses for import path, "" when it does
// not import it.
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, `"`) != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.CallExpr:
		return exprString(e.Fun) + "()"
	}
	return "…"
}

// TestHandlersOpenNoTransactions holds core/web to calling the engine: no
// file of the package (tests aside, which seed and inspect the store
// directly) opens a store transaction or reaches for the store.
func TestHandlersOpenNoTransactions(t *testing.T) {
	for _, f := range storeTxFindings(t, ".") {
		t.Errorf("%s: handlers call a core.Engine method that does the read or the write (and its audit) in one transaction", f)
	}
}

// TestStoreTxFindings checks that the walk finds each way of reaching the
// store, so that TestHandlersOpenNoTransactions cannot pass by finding
// nothing.
func TestStoreTxFindings(t *testing.T) {
	dir := t.TempDir()
	src := `package web

import (
	"context"

	c "github.com/countersign/countersign/core"
)

type srv struct {
	st  c.Store
	eng interface{ Store() c.Store }
}

func (s *srv) read(ctx context.Context) error {
	return s.st.View(ctx, func(tx c.Tx) error { return nil })
}

func (s *srv) write(ctx context.Context) error {
	return s.eng.Store().Update(ctx, func(tx c.Tx) error { return nil })
}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad_test.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got := storeTxFindings(t, dir)
	want := []string{
		"uses c.Store", "uses c.Store", "uses c.Tx", "opens a transaction with s.st.View",
		"calls s.eng.Store()", "opens a transaction with s.eng.Store().Update", "uses c.Tx",
	}
	if len(got) != len(want) {
		t.Fatalf("found %d, want %d (test files are skipped):\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if strings.HasSuffix(g, ": "+w) {
				found = true
			}
		}
		if !found {
			t.Errorf("not found: %s\nin:\n%s", w, strings.Join(got, "\n"))
		}
	}
}
