package psafake

import (
	"net/http"
	"sync"
)

// Faults are the misbehaviours a test asks of a fake: failing the next
// requests with a status, truncating the next answer, being down. Embed a
// Faults value in a fake server and its methods become the fake's knobs
// (they satisfy the corresponding part of psatest.Fake). The zero value is
// a well-behaved server; its methods are safe for concurrent use.
type Faults struct {
	mu        sync.Mutex
	failN     int
	failCode  int
	failAfter string
	malformed bool
	down      bool
	revoked   bool
	requests  int
}

// Failure is how the fake answers a request that [Faults.Begin] failed.
type Failure struct {
	Status     int
	RetryAfter string // the Retry-After header to send; "" for none
	Down       bool   // the whole service is down (SetDown), not one request
}

// FailNext answers the next n API requests with status and, when
// retryAfter is not "", a Retry-After header with that value, without
// processing them. n 0 stops failing.
func (f *Faults) FailNext(n, status int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failCode, f.failAfter = n, status, retryAfter
}

// MalformedNext truncates the body of the next successful answer that goes
// through [Faults.Body].
func (f *Faults) MalformedNext() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.malformed = true
}

// SetDown makes every request fail with 503 until SetDown(false), as when
// the vendor is down for maintenance.
func (f *Faults) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// RejectCredentials makes every API request fail with 401 until
// RejectCredentials(false), as after the integration's keys were revoked
// or rotated in the PSA: the fake answers in its vendor's error shape for
// a 401, so the client's misconfiguration message and the vendor's words
// come from a real-looking answer. Unlike FailNext it never runs out, so a
// test can count that nobody keeps asking.
func (f *Faults) RejectCredentials(revoked bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = revoked
}

// Requests returns how many API requests [Faults.Begin] has counted.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Begin counts one API request and says whether to fail it, and how. A
// fake calls it once per API request, before looking at the request, and
// answers a failure in its vendor's error shape ([Failure.Write] does the
// headers).
func (f *Faults) Begin() (Failure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return Failure{Status: http.StatusServiceUnavailable, Down: true}, true
	}
	f.requests++
	if f.revoked {
		return Failure{Status: http.StatusUnauthorized}, true
	}
	if f.failN <= 0 {
		return Failure{}, false
	}
	f.failN--
	return Failure{Status: f.failCode, RetryAfter: f.failAfter}, true
}

// Down reports whether SetDown(true) is in force, for fakes that must be
// down even for requests they do not count (ConnectWise's unauthenticated
// codebase discovery).
func (f *Faults) Down() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

// Body returns b, or its first half once after [Faults.MalformedNext]: a
// truncated JSON body a client must report as an outage, not panic on.
func (f *Faults) Body(b []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.malformed {
		return b
	}
	f.malformed = false
	return b[:len(b)/2]
}

// Write sets the Retry-After header of the failure, if any, and calls
// body to write the vendor's error answer for its status.
func (fl Failure) Write(w http.ResponseWriter, body func(w http.ResponseWriter, status int)) {
	if fl.RetryAfter != "" {
		w.Header().Set("Retry-After", fl.RetryAfter)
	}
	body(w, fl.Status)
}
