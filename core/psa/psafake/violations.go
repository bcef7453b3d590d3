package psafake

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// Violations collects what a fake saw a client do that the vendor's
// contract does not allow. The fake answers each as the vendor would (404,
// 405, 400) and records it; [Violations.FailAtCleanup] turns the ones left
// at the end of the test into failures, so that a client cannot drift from
// the real API unnoticed. Tests that provoke violations on purpose take
// them with [Violations.Take]. The zero value is ready; it is safe for
// concurrent use.
type Violations struct {
	mu   sync.Mutex
	list []string
}

// Add records a violation.
func (v *Violations) Add(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.list = append(v.list, fmt.Sprintf(format, args...))
}

// Take returns the violations recorded so far and forgets them.
func (v *Violations) Take() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.list
	v.list = nil
	return out
}

// FailAtCleanup registers a cleanup on t that fails it with every
// violation still recorded then, each prefixed with name ("cwtest").
func (v *Violations) FailAtCleanup(t testing.TB, name string) {
	t.Cleanup(func() {
		v.mu.Lock()
		left := slices.Clone(v.list)
		v.mu.Unlock()
		for _, msg := range left {
			t.Errorf("%s: contract violation: %s", name, msg)
		}
	})
}
