package psa_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies keeps core/psa and its subpackages free of the packages
// STYLE.md §1 keeps out: no PSA plugin, store, web or their drivers. Plugins
// import core/psa, never the other way round.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/countersign/countersign/core/psa/...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	const mod = "github.com/countersign/countersign/"
	forbidden := []string{"github.com/gorilla/", "github.com/twilio/", "github.com/jackc/", "github.com/mattn/go-sqlite3", "database/sql"}
	for _, dep := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(dep, mod); ok && rest != "core" && rest != "core/psa" && !strings.HasPrefix(rest, "core/psa/") {
			t.Errorf("core/psa depends on %s: plugins import core/psa, not the reverse; talk in core or psa types instead", dep)
		}
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("core/psa depends on %s: keep drivers and web libraries in their adapter packages", dep)
			}
		}
	}
}
