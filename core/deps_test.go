package core_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/countersign/countersign"

// forbidden is one import a package must keep out of its dependencies, with
// the advice the failure message gives.
type forbidden struct {
	prefix string // an import path, or a path prefix ending in "/"
	why    string
}

// matches reports whether path is the forbidden path or below it.
func (f forbidden) matches(path string) bool {
	p := strings.TrimSuffix(f.prefix, "/")
	return path == p || strings.HasPrefix(path, p+"/")
}

var (
	psaPackages = []forbidden{
		{module + "/connectwise", "talk to PSAs through the capability interfaces in core/psa"},
		{module + "/autotask", "talk to PSAs through the capability interfaces in core/psa"},
		{module + "/halo", "talk to PSAs through the capability interfaces in core/psa"},
		{module + "/kaseya", "talk to PSAs through the capability interfaces in core/psa"},
		{module + "/superops", "talk to PSAs through the capability interfaces in core/psa"},
	}
	adapters = []forbidden{
		{module + "/core/store", "persist through core.Store and core.Tx; core/store implements them"},
		{module + "/core/web", "core/web calls the domain, never the other way; return core errors and let core/web map them"},
	}
	outside = []forbidden{
		{"github.com/mattn/go-sqlite3", "persist through core.Store and core.Tx; only core/store may use a database driver"},
		{"modernc.org/sqlite", "persist through core.Store and core.Tx; only core/store may use a database driver"},
		{"github.com/jackc/pgx", "persist through core.Store and core.Tx; only core/store may use a database driver"},
		{"github.com/lib/pq", "persist through core.Store and core.Tx; only core/store may use a database driver"},
		{"github.com/gorilla/", "HTTP routing and sessions belong in core/web"},
		{"github.com/twilio/", "deliver through core.Sender; core/twilio implements it"},
		{"github.com/duosecurity/", "push through core.DuoClient; core/duo implements it"},
		{"golang.org/x/oauth2", "reach Microsoft 365 through core.MicrosoftClient; core/microsoft implements it"},
	}
)

// TestDependencies enforces STYLE.md Part 2 §1: the domain imports no
// adapter, so adapters can change (or be left out of a build) freely.
func TestDependencies(t *testing.T) {
	root := moduleRoot(t)
	rules := []struct {
		pkg    string // import path relative to the module
		deny   []forbidden
		noOwn  bool     // true: no other package of this module at all…
		allow  []string // …but these (import paths)
		ownWhy string
	}{
		{
			pkg:   "core",
			deny:  concat(psaPackages, adapters, outside),
			noOwn: true,
			ownWhy: "core is the domain and imports no other countersign package; declare the small interface " +
				"the engine calls in core (as core.Sender, core.Sealer) and let the other package implement it",
		},
		{pkg: "core/psa/...", deny: concat(psaPackages, adapters, outside)},
		{pkg: "core/secret", deny: concat(psaPackages, adapters, outside, []forbidden{{module + "/core/psa", "core/secret is a pure library used by core's adapters"}})},
		{pkg: "core/auth", deny: concat(psaPackages, adapters, outside, []forbidden{{module + "/core/psa", "core/auth is a pure library; it takes a core.Technician"}})},
		{
			pkg: "core/testkit", deny: outside, noOwn: true, allow: []string{module + "/core"},
			ownWhy: "core/testkit is the leaf every test may import (core's, core/web's, the plugins'); it imports core for the Sender it implements and nothing else of ours",
		},
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(r.pkg, "/...")))); err != nil {
				t.Skipf("%s does not exist yet", r.pkg)
			}
			self := module + "/" + strings.TrimSuffix(r.pkg, "/...")
			graph := listDeps(t, root, "./"+r.pkg)
			for path := range graph {
				if path == self || strings.HasPrefix(path, self+"/") && strings.HasSuffix(r.pkg, "/...") {
					continue
				}
				if r.noOwn && (path == module || strings.HasPrefix(path, module+"/")) && !slices.Contains(r.allow, path) {
					t.Errorf("%s imports %s (via %s): %s", r.pkg, path, chain(graph, self, path), r.ownWhy)
					continue
				}
				for _, f := range r.deny {
					if f.matches(path) {
						t.Errorf("%s must not import %s (via %s): %s", r.pkg, path, chain(graph, self, path), f.why)
					}
				}
			}
		})
	}
}

func concat(lists ...[]forbidden) []forbidden {
	var out []forbidden
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// listDeps returns the non-test dependency graph of pkg: every package it
// needs, mapped to that package's direct imports. -e keeps listing when some
// package does not build, so a compile error elsewhere does not hide an
// import that breaks the rules.
func listDeps(t *testing.T, root, pkg string) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goBin, "list", "-e", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
	}
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		graph[fields[0]] = fields[1:]
	}
	return graph
}

// chain returns the shortest import chain from "from" to "to", so a failure
// shows which import to remove.
func chain(graph map[string][]string, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			break
		}
		for _, next := range graph[cur] {
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	if _, ok := prev[to]; !ok {
		return to
	}
	var path []string
	for p := to; p != ""; p = prev[p] {
		path = append(path, p)
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return strings.Join(path, " → ")
}

// moduleRoot walks up from the test's directory to the go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// TestProgramsLinkNoTestkit keeps the test doubles out of the binaries:
// core/testkit's capture would swallow real messages, its clock stop time.
// The demo's own fakes (duotest, microsofttest) are kits of their own.
func TestProgramsLinkNoTestkit(t *testing.T) {
	root := moduleRoot(t)
	graph := listDeps(t, root, "./cmd/...")
	const kit = module + "/core/testkit"
	if _, ok := graph[module+"/core"]; !ok {
		t.Fatalf("go list -deps ./cmd/... does not list core; got %d packages", len(graph))
	}
	if _, ok := graph[kit]; ok {
		t.Errorf("a program links %s (via %s): only tests and test kits may import it", kit, chain(graph, module+"/cmd/countersign", kit))
	}
}

// TestDependencyGraph checks the checker: the graph must see a real import,
// or TestDependencies would pass vacuously.
func TestDependencyGraph(t *testing.T) {
	root := moduleRoot(t)
	graph := listDeps(t, root, "./core/auth")
	from, to := module+"/core/auth", module+"/core"
	if _, ok := graph[to]; !ok {
		t.Fatalf("go list -deps ./core/auth does not list %s; got %d packages", to, len(graph))
	}
	if got, want := chain(graph, from, to), from+" → "+to; got != want {
		t.Errorf("chain = %q, want %q", got, want)
	}
	f := forbidden{prefix: "github.com/gorilla/"}
	for path, want := range map[string]bool{"github.com/gorilla/mux": true, "github.com/gorilla": true, "github.com/gorillas/x": false} {
		if got := f.matches(path); got != want {
			t.Errorf("matches(%q) = %v, want %v", path, got, want)
		}
	}
}

// psaAllowed are the packages of this module a PSA plugin (and its fake)
// may import, besides its own folder's.
var psaAllowed = []string{module + "/core", module + "/core/psa", module + "/core/psa/psafake", module + "/core/psa/psatest"}

// TestPSADependencies holds every PSA plugin to STYLE.md Part 2 §1: it
// imports core and core/psa (its fake also the kit, psafake, and the
// suite, psatest), and packages of its own folder — never core/store,
// core/web, another adapter or another PSA. It talks to the host only
// through the capability interfaces.
func TestPSADependencies(t *testing.T) {
	root := moduleRoot(t)
	for _, p := range psaPackages {
		name := strings.TrimPrefix(p.prefix, module+"/")
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, name)); err != nil {
				t.Skipf("%s does not exist yet", name)
			}
			graph := listDeps(t, root, "./"+name+"/...")
			own := module + "/" + name
			checked := 0
			for pkg, imports := range graph {
				if pkg != own && !strings.HasPrefix(pkg, own+"/") {
					continue
				}
				checked++
				for _, imp := range imports {
					if imp != module && !strings.HasPrefix(imp, module+"/") || imp == own || strings.HasPrefix(imp, own+"/") || slices.Contains(psaAllowed, imp) {
						continue
					}
					t.Errorf("%s imports %s: a PSA plugin imports only core, core/psa (its fake also core/psa/psafake and core/psa/psatest) and its own folder; "+
						"take what it needs through psa.Deps or a capability interface instead", pkg, imp)
				}
			}
			if checked == 0 {
				t.Errorf("go list found no package under ./%s", name)
			}
		})
	}
}

// psaNames are how PSAs are named in text. Only a PSA's own folder and
// the one registration line in cmd/ may name it.
var psaNames = regexp.MustCompile(`(?i:connectwise|autotask|kaseya|superops|halopsa)|\bHalo\b`)

// TestHostNamesNoPSA keeps the host PSA-neutral: no file of core/web or
// assets (tests aside) names a PSA, in code or comment. A PSA's specifics
// live in its folder and reach the host through its descriptor.
func TestHostNamesNoPSA(t *testing.T) {
	root := moduleRoot(t)
	files := 0
	for _, dir := range []string{"core/web", "assets"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			for i, line := range strings.Split(string(b), "\n") {
				if m := psaNames.FindString(line); m != "" {
					rel, _ := filepath.Rel(root, p)
					t.Errorf("%s:%d names the PSA %q: move it into the plugin's folder (its descriptor, assets or docs)", rel, i+1, m)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 20 {
		t.Fatalf("walked only %d files of core/web and assets", files)
	}
}

// TestCoreImportsNoPSA keeps every package under core/ — its tests
// included — free of PSA plugins (issue 10 item 2, issue 22 item 4): the
// host is tested on the built-in memory PSA (core/psa/memory), and a
// plugin drives its integration through the host from its own tests
// (with core/web/webtest). A core test that imported a plugin would make
// the host's suite that plugin's, and break when it changes.
func TestCoreImportsNoPSA(t *testing.T) {
	root := moduleRoot(t)
	graph := listTestDeps(t, root, "./core/...")
	const top = "core/... with tests"
	for path := range graph {
		if !strings.HasPrefix(path, module+"/core") {
			continue
		}
		graph[top] = append(graph[top], path)
	}
	for path := range graph {
		for _, f := range psaPackages {
			if f.matches(strings.Fields(path)[0]) {
				t.Errorf("%s reaches the PSA plugin %s (via %s): test the host on core/psa/memory, and test the plugin through the host in its own folder with core/web/webtest",
					top, path, chain(graph, top, path))
			}
		}
	}
}

// listTestDeps is listDeps with the packages' tests: every package that
// pkg or its tests need, test variants ("p [p.test]") included.
func listTestDeps(t *testing.T, root, pkg string) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goBin, "list", "-e", "-deps", "-test", "-f", "{{.ImportPath}}{{range .Imports}}\t{{.}}{{end}}", pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -test %s: %v\n%s", pkg, err, stderr.String())
	}
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if fields[0] == "" {
			continue
		}
		graph[fields[0]] = fields[1:]
	}
	return graph
}

// TestTestDependencyGraph checks TestCoreImportsNoPSA's checker: the graph
// must hold an import that only a test makes (core/web's tests open
// stores with core/store/storetest; core/web itself does not), or the
// check would pass without looking at tests.
func TestTestDependencyGraph(t *testing.T) {
	root := moduleRoot(t)
	graph := listTestDeps(t, root, "./core/web")
	xtest := module + "/core/web_test [" + module + "/core/web.test]"
	imports, ok := graph[xtest]
	if !ok {
		t.Fatalf("go list -deps -test ./core/web does not list %s; got %d packages", xtest, len(graph))
	}
	if !slices.Contains(imports, module+"/core/store/storetest") {
		t.Errorf("%s does not import core/store/storetest: %v", xtest, imports)
	}
	if slices.Contains(graph[module+"/core/web"], module+"/core/store/storetest") {
		t.Errorf("core/web itself imports core/store/storetest; pick another test-only import for this check")
	}
}

// psaTestAllowed are the packages of this module a PSA plugin's tests may
// import besides psaAllowed and its own folder: the kit that runs a whole
// Countersign server around the plugin (core/web/webtest), the memory
// PSA as another plugin beside it, and the test doubles (core/testkit:
// clock, capture, log buffer). Never core/web or core/store
// themselves: the kit is the host's test surface.
var psaTestAllowed = []string{module + "/core/web/webtest", module + "/core/psa/memory", module + "/core/testkit"}

// TestPSATestDependencies holds a PSA plugin's tests to psaAllowed,
// psaTestAllowed and its own folder.
func TestPSATestDependencies(t *testing.T) {
	root := moduleRoot(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	for _, p := range psaPackages {
		name := strings.TrimPrefix(p.prefix, module+"/")
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, name)); err != nil {
				t.Skipf("%s does not exist yet", name)
			}
			cmd := exec.CommandContext(t.Context(), goBin, "list", "-e", "-f",
				"{{.ImportPath}}{{range .TestImports}}\t{{.}}{{end}}{{range .XTestImports}}\t{{.}}{{end}}", "./"+name+"/...")
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list ./%s/...: %v", name, err)
			}
			own := module + "/" + name
			for line := range strings.Lines(string(out)) {
				fields := strings.Split(strings.TrimRight(line, "\n"), "\t")
				for _, imp := range fields[1:] {
					if imp != module && !strings.HasPrefix(imp, module+"/") || imp == own || strings.HasPrefix(imp, own+"/") ||
						slices.Contains(psaAllowed, imp) || slices.Contains(psaTestAllowed, imp) {
						continue
					}
					t.Errorf("the tests of %s import %s: a plugin's tests reach the host through core/web/webtest only", fields[0], imp)
				}
			}
		})
	}
}
