package core_test

import (
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPackageDocs enforces STYLE.md Part 2 §9, after Tailscale's
// pkgdoc_test.go: every package in the module, commands included, has a
// package doc comment in exactly one non-test file.
func TestPackageDocs(t *testing.T) {
	problems, err := checkPackageDocs(moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCheckPackageDocs checks the checker on a small tree.
func TestCheckPackageDocs(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                 "module example.com/m\n",
		"good/a.go":              "// Package good is documented once.\npackage good\n",
		"good/b.go":              "package good\n",
		"good/b_test.go":         "// Package good has a doc in a test too, which does not count.\npackage good\n",
		"nodoc/a.go":             "package nodoc\n",
		"twice/a.go":             "// Package twice is documented here.\npackage twice\n",
		"twice/b.go":             "// Package twice is documented here too.\npackage twice\n",
		"testonly/x_test.go":     "package testonly\n",
		"cmd/tool/main.go":       "package main\n",
		"gen/doc.go":             "// Package gen has a generator beside it.\npackage gen\n",
		"gen/gen.go":             "//go:build ignore\n\n// Gen writes tables.\npackage main\n",
		"good/testdata/x.go":     "package x\n",
		".hidden/x.go":           "package x\n",
		"vendor/v/x.go":          "package x\n",
		"nested/go.mod":          "module example.com/nested\n",
		"nested/x.go":            "package x\n",
		"ignoredbutdoc/linux.go": "//go:build linux\n\n// Package ignoredbutdoc is documented in an OS file.\npackage ignoredbutdoc\n",
		"ignoredbutdoc/plain.go": "package ignoredbutdoc\n",
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := checkPackageDocs(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cmd/tool: no package doc", "nodoc: no package doc", "twice: package doc comment in 2 files"}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

// checkPackageDocs walks the module at root and returns one line per package
// directory without a doc comment or with one in several files, sorted.
// Packages made only of _test.go files are exempt; testdata, vendor, hidden
// and _-prefixed directories and nested modules are skipped, as the go
// command skips them.
func checkPackageDocs(root string) ([]string, error) {
	var problems []string
	docFiles := map[string][]string{} // package dir → its files with a package doc
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == root {
				return nil
			}
			name := d.Name()
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", rel(root, path), err))
			return nil
		}
		if ignored(f.Comments, f.Package) {
			return nil // a "//go:build ignore" generator, not part of the package
		}
		dir := filepath.Dir(path)
		if _, ok := docFiles[dir]; !ok {
			docFiles[dir] = nil
		}
		if f.Doc != nil {
			docFiles[dir] = append(docFiles[dir], filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for dir, files := range docFiles {
		switch len(files) {
		case 0:
			problems = append(problems, fmt.Sprintf("%s: no package doc comment; add one (\"// Package x …\", or \"// Command x …\" for a main package) to exactly one file, doc.go when it is long", rel(root, dir)))
		case 1:
		default:
			slices.Sort(files)
			problems = append(problems, fmt.Sprintf("%s: package doc comment in %d files %q; keep it in one", rel(root, dir), len(files), files))
		}
	}
	slices.Sort(problems)
	return problems, nil
}

// ignored reports whether a file's build constraint is exactly "ignore",
// the convention for generators kept beside a package.
func ignored(comments []*ast.CommentGroup, pkg token.Pos) bool {
	for _, g := range comments {
		if g.Pos() >= pkg {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err == nil && expr.String() == "ignore" {
				return true
			}
		}
	}
	return false
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}
