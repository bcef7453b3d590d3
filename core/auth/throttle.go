package auth

import (
	"context"
	"sync"
	"time"

	"github.com/countersign/countersign/core"
)

// Throttle limits failed sign-ins per key (a source address, a tenant) in a
// fixed window: the first Free failures pass at once, the next ones wait a
// delay that doubles with each failure (from Delay up to MaxDelay), and once
// Max failures are counted every attempt is refused with core.KindRateLimited
// and a Retry-After until the window ends (NIST SP 800-63B §3.2.2; OWASP ASVS
// 6.3.1). It is decided before any hashing, so refused attempts cost no
// argon2 time.
//
// An attempt is counted when it begins (so parallel attempts cannot all slip
// through before the first one fails) and uncounted when it succeeds: a
// correct sign-in never adds to the count, but does not erase earlier
// failures either, so an attacker cannot reset the count with an account of
// his own.
//
// Counts live in this process: with several nodes each counts its own
// requests, which a load balancer's spread multiplies by at most the node
// count.
type Throttle struct {
	Window   time.Duration
	Free     int
	Max      int
	Delay    time.Duration
	MaxDelay time.Duration
	// MaxKeys bounds the memory the counts take; when that many keys have
	// failures in their window, a new key is refused (fail closed).
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; nil means a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	start time.Time
	n     int
}

// Default throttles. Per address: 5 failures pass, then delays of 250 ms
// doubling to 4 s, then 429 after 20 failures in 15 minutes. Per tenant
// (every address together): 100 failures in 15 minutes, then delays, then
// 429 after 300, so a spread attack is slowed without one address being
// able to lock a whole tenant out.
func NewAddressThrottle() *Throttle {
	return &Throttle{Window: 15 * time.Minute, Free: 5, Max: 20, Delay: 250 * time.Millisecond, MaxDelay: 4 * time.Second, MaxKeys: 100_000}
}

// NewTenantThrottle returns the default per-tenant throttle.
func NewTenantThrottle() *Throttle {
	return &Throttle{Window: 15 * time.Minute, Free: 100, Max: 300, Delay: 250 * time.Millisecond, MaxDelay: 4 * time.Second, MaxKeys: 100_000}
}

func (t *Throttle) now() time.Time {
	if t.Now == nil {
		return time.Now()
	}
	return t.Now()
}

// errThrottled is the refusal; it names no account, address or tenant.
var errThrottled = core.Errorf(core.KindRateLimited, "too many failed sign-ins; wait and try again")

// Begin counts an attempt for key and, past Free, waits its delay. It
// returns a core.KindRateLimited error (with Retry-After) when key is at Max,
// or ctx's error when the wait is cut short. On nil, call the returned done
// with whether the sign-in succeeded.
func (t *Throttle) Begin(ctx context.Context, key string) (done func(ok bool), err error) {
	now := t.now()
	t.mu.Lock()
	if t.keys == nil {
		t.keys = map[string]*window{}
	}
	w := t.keys[key]
	if w != nil && !now.Before(w.start.Add(t.Window)) {
		w.start, w.n = now, 0
	}
	if w == nil {
		if t.MaxKeys > 0 && len(t.keys) >= t.MaxKeys {
			t.pruneLocked(now)
		}
		if t.MaxKeys > 0 && len(t.keys) >= t.MaxKeys {
			t.mu.Unlock()
			return nil, core.WithRetryAfter(errThrottled, t.Window)
		}
		w = &window{start: now}
		t.keys[key] = w
	}
	if t.Max > 0 && w.n >= t.Max {
		retry := w.start.Add(t.Window).Sub(now)
		t.mu.Unlock()
		return nil, core.WithRetryAfter(errThrottled, retry)
	}
	w.n++
	n, start := w.n, w.start
	t.mu.Unlock()

	done = func(ok bool) {
		if !ok {
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if cur := t.keys[key]; cur == w && cur.start.Equal(start) && cur.n > 0 {
			cur.n--
		}
	}
	if d := t.delay(n); d > 0 {
		sleep := t.Sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(ctx, d); err != nil {
			done(true) // the attempt never ran: do not count it
			return nil, err
		}
	}
	return done, nil
}

// delay is the wait of the n-th attempt in a window.
func (t *Throttle) delay(n int) time.Duration {
	if n <= t.Free || t.Delay <= 0 {
		return 0
	}
	d := t.Delay
	for i := t.Free + 1; i < n && d < t.MaxDelay; i++ {
		d *= 2
	}
	if t.MaxDelay > 0 {
		d = min(d, t.MaxDelay)
	}
	return d
}

// pruneLocked drops keys whose window has ended.
func (t *Throttle) pruneLocked(now time.Time) {
	for k, w := range t.keys {
		if !now.Before(w.start.Add(t.Window)) {
			delete(t.keys, k)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return core.Errorf(core.KindUnavailable, "sign-in was cancelled while waiting")
	}
}
