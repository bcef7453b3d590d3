package core_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAuditActionsAreConstants: no code in the module names an audit
// action with a string literal — in a call of audit, Audit or
// putActivationKey, or as an AuditEvent's Action — so that every action
// is one of the constants of auditaction.go (or an EventType), listed in
// one place that the console's filters are written from.
func TestAuditActionsAreConstants(t *testing.T) {
	problems, err := auditLiterals(moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestAuditLiteralsChecker checks the checker on a small tree.
func TestAuditLiteralsChecker(t *testing.T) {
	root := t.TempDir()
	src := `package p
func f(e E, tx T) {
	e.audit(ctx, tx, "ten", "system", "thing.done", "s", nil)
	e.Audit(ctx, "ten", "system", AuditThingDone, "s", nil)
	_ = AuditEvent{Action: "thing.made"}
	_ = core.AuditEvent{Action: core.AuditThingDone}
	log("not.an.audit")
}
`
	if err := os.MkdirAll(filepath.Join(root, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"p.go": src, "p_test.go": `package p
func g(e E) { e.Audit(ctx, "ten", "x", "in.a_test", "s", nil) }
`} {
		if err := os.WriteFile(filepath.Join(root, "p", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	problems, err := auditLiterals(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 || !strings.Contains(problems[0], `"thing.done"`) || !strings.Contains(problems[1], `"thing.made"`) {
		t.Errorf("problems = %q, want the call's and the AuditEvent's literal", problems)
	}
}

// actionLiteral is what an audit action written out looks like.
var actionLiteral = regexp.MustCompile(`^"[a-z_]+(\.[a-z_]+)+"$`)

// auditLiterals lists, as "file:line: literal", the audit actions written
// as string literals in the non-test Go files under root.
func auditLiterals(root string) ([]string, error) {
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		flag := func(e ast.Expr) {
			if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING && actionLiteral.MatchString(lit.Value) {
				rel, _ := filepath.Rel(root, path)
				problems = append(problems, rel+":"+strconv.Itoa(fset.Position(lit.Pos()).Line)+": "+lit.Value)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
					switch sel.Sel.Name {
					case "audit", "Audit", "putActivationKey":
						for _, a := range n.Args {
							flag(a)
						}
					}
				}
			case *ast.CompositeLit:
				if !strings.HasSuffix(exprName(n.Type), "AuditEvent") {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Action" {
							flag(kv.Value)
						}
					}
				}
			}
			return true
		})
		return nil
	})
	return problems, err
}

// exprName is the name of a type expression (pkg.Name or Name).
func exprName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprName(e.X) + "." + e.Sel.Name
	}
	return ""
}
