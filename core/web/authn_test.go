package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/web"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests hold sign-in to issue 9 items 1–4 and issue 21 item 7: they
// send real parallel HTTP requests to a server over a real store.

// unlimited is a throttle that never delays or refuses, for tests about
// what lies behind the throttles.
func unlimited() *auth.Throttle { return &auth.Throttle{Window: time.Minute} }

// loginResult is one answer to a parallel sign-in.
type loginResult struct {
	status     int
	retryAfter string
}

// parallelLogins sends every body in bodies at once (released together) and
// returns the answers in no particular order. hdr, when set, gives the
// headers of the i-th request.
func (e *env) parallelLogins(t *testing.T, bodies []map[string]string, hdr func(i int) map[string]string) []loginResult {
	t.Helper()
	out := make([]loginResult, len(bodies))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, _ := json.Marshal(b)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/api/v1/login", bytes.NewReader(raw))
			if err != nil {
				out[i] = loginResult{status: -1}
				return
			}
			req.Header.Set("Content-Type", "application/json")
			if hdr != nil {
				for k, v := range hdr(i) {
					req.Header.Set(k, v)
				}
			}
			<-start
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				out[i] = loginResult{status: -1}
				return
			}
			res.Body.Close()
			out[i] = loginResult{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func countStatuses(rs []loginResult) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.status]++
	}
	return m
}

func (e *env) technician(t *testing.T, tenantID, id string) core.Technician {
	t.Helper()
	var tc core.Technician
	require.NoError(t, e.st.View(t.Context(), func(tx core.Tx) error {
		var err error
		tc, err = tx.Technician(t.Context(), tenantID, id)
		return err
	}))
	return tc
}

// Item 1: 50 parallel sign-ins with wrong passwords ran 50 argon2id hashes of
// 64 MiB at once (29 MiB → 3.2 GiB RSS). Through the gate, at most its slots
// run at once, the heap stays bounded, and the rest wait or get 503 with
// Retry-After.
func TestParallelSignInsBoundedByHashGate(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		gate := auth.NewHashGate(2)
		e := newEnv(t, st, envOptions{auth: func(a *web.PasswordAuth) { a.Gate = gate },
			addrThrottle: unlimited(), tenantThrottle: unlimited()})
		bodies := make([]map[string]string, 50)
		for i := range bodies {
			// Unknown emails: the dummy hash has DefaultParams (64 MiB).
			bodies[i] = map[string]string{"tenant": e.a.tenant.Slug, "email": fmt.Sprintf("nobody%d@acme.example", i), "password": "wrong password " + strconv.Itoa(i)}
		}
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		rs := e.parallelLogins(t, bodies, nil)
		close(stop)
		<-sampled
		counts := countStatuses(rs)
		t.Logf("statuses %v, gate high-water %d of %d, heap in use +%d MiB at peak", counts, gate.HighWater(), gate.Slots(),
			(int64(peak.Load())-int64(base.HeapInuse))>>20)
		assert.Equal(t, 50, counts[http.StatusUnauthorized]+counts[http.StatusServiceUnavailable], "only 401 or 503: %v", counts)
		assert.Positive(t, counts[http.StatusUnauthorized])
		for _, r := range rs {
			if r.status == http.StatusServiceUnavailable {
				assert.NotEmpty(t, r.retryAfter, "a 503 says when to come back")
			}
		}
		assert.LessOrEqual(t, gate.HighWater(), 2, "never more hashes at once than the gate's slots")
		// 50 hashes at once hold 3.2 GiB; two slots, 128 MiB plus garbage
		// the collector has not yet returned.
		assert.Less(t, int64(peak.Load())-int64(base.HeapInuse), int64(1<<30), "heap bounded by the gate")
	})
}

// Item 2: 50 parallel wrong passwords were all answered 401 with
// failed_logins=1; now exactly five are checked (401) and the other 45 find
// the account locked (403). The lock is short and clears by itself.
func TestParallelWrongPasswordsLockAfterExactlyFive(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, envOptions{addrThrottle: unlimited(), tenantThrottle: unlimited()})
		bodies := make([]map[string]string, 50)
		for i := range bodies {
			bodies[i] = loginBody(e.a, "wrong password "+strconv.Itoa(i), "")
		}
		counts := countStatuses(e.parallelLogins(t, bodies, nil))
		assert.Equal(t, map[int]int{http.StatusUnauthorized: 5, http.StatusForbidden: 45}, counts)
		tc := e.technician(t, e.a.tenant.ID, e.a.tech.ID)
		assert.Equal(t, 5, tc.FailedLogins)
		assert.Equal(t, e.clk.Now().Add(auth.DefaultLockout.Duration), tc.LockedUntil)

		c := e.client(t)
		r := e.api(t, c, http.MethodPost, "/api/v1/login", loginBody(e.a, password, ""))
		assert.Equal(t, http.StatusForbidden, r.status, "locked, even with the right password")
		e.clk.Add(auth.DefaultLockout.Duration)
		r = e.api(t, c, http.MethodPost, "/api/v1/login", loginBody(e.a, password, ""))
		require.Equal(t, http.StatusOK, r.status, "the lock clears by itself: %s", r.body)
		assert.Zero(t, e.technician(t, e.a.tenant.ID, e.a.tech.ID).FailedLogins)
	})
}

// Item 2: 10 parallel sign-ins with the same TOTP code let 4 in; exactly
// one may succeed.
func TestParallelSameTOTPCodeSucceedsOnce(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, envOptions{requireTOTP: true, addrThrottle: unlimited(), tenantThrottle: unlimited()})
		secretText, _, err := auth.NewTOTP("test", e.a.tech.Email)
		require.NoError(t, err)
		tc := e.technician(t, e.a.tenant.ID, e.a.tech.ID)
		tc.TOTPSecret, err = e.keys.Seal([]byte(secretText), auth.TOTPAAD(tc.ID))
		require.NoError(t, err)
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error { return tx.UpdateTechnician(t.Context(), &tc) }))
		code, err := totp.GenerateCode(secretText, e.clk.Now())
		require.NoError(t, err)

		bodies := make([]map[string]string, 10)
		for i := range bodies {
			bodies[i] = loginBody(e.a, password, code)
		}
		counts := countStatuses(e.parallelLogins(t, bodies, nil))
		assert.Equal(t, 1, counts[http.StatusOK], "exactly one sign-in with the code: %v", counts)
		assert.Equal(t, 9, counts[http.StatusUnauthorized]+counts[http.StatusForbidden], "%v", counts)
		assert.Equal(t, auth.TOTPStep(e.clk.Now()), e.technician(t, e.a.tenant.ID, e.a.tech.ID).LastTOTPStep)
	})
}

// Item 3: the password hash ran inside Store.Update, holding SQLite's one
// writer connection: under a login flood a technician's cancel took 1.3–3.7
// s. Hashing now runs outside any transaction.
func TestSignInFloodDoesNotBlockWrites(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		gate := auth.NewHashGate(2)
		e := newEnv(t, st, envOptions{auth: func(a *web.PasswordAuth) { a.Gate = gate },
			addrThrottle: unlimited(), tenantThrottle: unlimited()})
		started, err := e.eng.Start(t.Context(), core.StartRequest{TenantID: e.a.tenant.ID, TechnicianID: e.a.tech.ID,
			ContactID: e.a.contact.ID, Method: core.MethodSMSCode, TicketRef: "4821"})
		require.NoError(t, err)

		bodies := make([]map[string]string, 6)
		for i := range bodies {
			bodies[i] = map[string]string{"tenant": e.a.tenant.Slug, "email": fmt.Sprintf("flood%d@acme.example", i), "password": "wrong password"}
		}
		t0 := time.Now()
		require.NoError(t, gate.CheckDummy(t.Context(), "calibrate"))
		oneHash := time.Since(t0)
		flood := make(chan []loginResult)
		go func() { flood <- e.parallelLogins(t, bodies, nil) }()
		deadline := time.Now().Add(10 * time.Second)
		for gate.InUse() < gate.Slots() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // polling until the flood is hashing
		}
		require.Equal(t, gate.Slots(), gate.InUse(), "the flood is hashing")
		t0 = time.Now()
		_, err = e.eng.Cancel(t.Context(), e.a.tenant.ID, e.a.tech.ID, started.Verification.ID)
		took := time.Since(t0)
		require.NoError(t, err)
		stillHashing := gate.InUse() > 0
		<-flood
		t.Logf("cancel took %v during the flood (one hash takes %v here)", took, oneHash)
		assert.True(t, stillHashing, "the cancel ran while hashes were running")
		if st.Dialect() == store.SQLite {
			// Before, the cancel queued for SQLite's one writer connection
			// behind several whole hashes. On PostgreSQL nothing was held;
			// what remains there is CPU contention with the hashes (each
			// of the cancel's round trips waits for a free core), which
			// says nothing about locking on a loaded machine.
			// Queued behind the hashes, it waited several whole ones; less
			// than one is the bound (an eighth, as before, failed CI at 81
			// ms against a 136 ms hash on a loaded 2-core machine).
			assert.Less(t, took, max(50*time.Millisecond, oneHash), "a write is not held up by sign-in hashing")
		}
	})
}

// Item 4: 40 wrong sign-ins from one address to 40 accounts were all
// answered 401. Per address, 5 pass, 15 more are delayed progressively, and
// the rest get 429 with Retry-After, before any hashing.
func TestSignInThrottledPerAddress(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		addr := auth.NewAddressThrottle()
		var mu sync.Mutex
		var delays []time.Duration
		addr.Sleep = func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			delays = append(delays, d)
			return nil
		}
		// A gate with a slot per request: this test is about the address
		// throttle, and 20 parallel hashes on a small gate would also see
		// 503s from the gate's own queue limit (TestSignInFloodBounded
		// covers that).
		gate := auth.NewHashGate(40)
		e := newEnv(t, st, envOptions{auth: func(a *web.PasswordAuth) { a.Gate = gate }, addrThrottle: addr, tenantThrottle: unlimited()})
		bodies := make([]map[string]string, 40)
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error {
			for i := range bodies {
				tc := core.Technician{TenantID: e.a.tenant.ID, Email: fmt.Sprintf("tech%d@acme.example", i), Name: "T",
					Role: core.RoleTechnician, PasswordHash: cheapHash(password), CreatedAt: e.clk.Now()}
				if err := tx.CreateTechnician(t.Context(), &tc); err != nil {
					return err
				}
				bodies[i] = map[string]string{"tenant": e.a.tenant.Slug, "email": tc.Email, "password": "wrong password"}
			}
			return nil
		}))
		// Without trusted proxies a client's own X-Forwarded-For is ignored,
		// so rotating it does not escape the throttle.
		rs := e.parallelLogins(t, bodies, func(i int) map[string]string {
			return map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}
		})
		counts := countStatuses(rs)
		assert.Equal(t, map[int]int{http.StatusUnauthorized: 20, http.StatusTooManyRequests: 20}, counts)
		for _, r := range rs {
			if r.status == http.StatusTooManyRequests {
				assert.Equal(t, "900", r.retryAfter, "retry when the 15-minute window ends")
			}
		}
		assert.Equal(t, 20, gate.Runs(), "refused attempts cost no hash")
		slices.Sort(delays)
		assert.Len(t, delays, 15, "attempts 6 to 20 are delayed")
		assert.Equal(t, 250*time.Millisecond, delays[0])
		assert.Equal(t, 4*time.Second, delays[len(delays)-1])

		// The throttled address is refused even with the right password, until its window ends.
		c := e.client(t)
		r := e.do(t, c, http.MethodPost, "/api/v1/login", "application/json", loginBody(e.a, password, ""), nil)
		assert.Equal(t, http.StatusTooManyRequests, r.status, "the throttled address is refused even with the right password")
		e.clk.Add(15 * time.Minute)
		addr.Now = func() time.Time { return time.Now().Add(15 * time.Minute) }
		r = e.do(t, c, http.MethodPost, "/api/v1/login", "application/json", loginBody(e.a, password, ""), nil)
		assert.Equal(t, http.StatusOK, r.status, "after the window the address may sign in: %s", r.body)
	})
}

// Item 4: failures spread over many addresses (behind a trusted proxy) are
// throttled per tenant.
func TestSignInThrottledPerTenant(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		tenant := &auth.Throttle{Window: 15 * time.Minute, Free: 4, Max: 4}
		e := newEnv(t, st, envOptions{auth: func(a *web.PasswordAuth) { a.Gate = auth.NewHashGate(4) },
			addrThrottle: auth.NewAddressThrottle(), tenantThrottle: tenant,
			trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		bodies := make([]map[string]string, 16)
		for i := range bodies {
			bodies[i] = map[string]string{"tenant": e.a.tenant.Slug, "email": fmt.Sprintf("nobody%d@acme.example", i), "password": "wrong password"}
		}
		counts := countStatuses(e.parallelLogins(t, bodies, func(i int) map[string]string {
			return map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.7, 203.0.113.%d", i+1)}
		}))
		assert.Equal(t, map[int]int{http.StatusUnauthorized: 4, http.StatusTooManyRequests: 12}, counts)
		// The other tenant is unaffected.
		r := e.api(t, e.client(t), http.MethodPost, "/api/v1/login", loginBody(e.b, password, ""))
		assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	})
}

// Issue 21 item 7: an unknown email answered in 0.39 s against 0.13 s for a
// known one. Known email with a wrong password, unknown email and unknown
// tenant take the same path (one argon2id run of DefaultParams through the
// gate) and the same time: their medians over many attempts agree.
func TestSignInTimingSameForUnknownAccounts(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		gate := auth.NewHashGate(1)
		e := newEnv(t, st, envOptions{auth: func(a *web.PasswordAuth) { a.Gate = gate; a.Lockout = auth.Lockout{MaxFailures: -1} },
			addrThrottle: unlimited(), tenantThrottle: unlimited()})
		real, err := auth.HashPassword(password)
		require.NoError(t, err)
		tc := e.technician(t, e.a.tenant.ID, e.a.tech.ID)
		tc.PasswordHash = real
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error { return tx.UpdateTechnician(t.Context(), &tc) }))

		cases := []map[string]string{
			loginBody(e.a, "wrong password", ""),
			{"tenant": e.a.tenant.Slug, "email": "nobody@acme.example", "password": "wrong password"},
			{"tenant": "no-such-tenant", "email": e.a.tech.Email, "password": "wrong password"},
		}
		const rounds = 7
		took := make([][]time.Duration, len(cases))
		c := e.client(t)
		runs := gate.Runs()
		for range rounds {
			for i, body := range cases {
				t0 := time.Now()
				r := e.api(t, c, http.MethodPost, "/api/v1/login", body)
				took[i] = append(took[i], time.Since(t0))
				require.Equal(t, http.StatusUnauthorized, r.status)
			}
		}
		assert.Equal(t, rounds*len(cases), gate.Runs()-runs, "one hash per attempt, known or not")
		// Each round's attempts ran back to back, so the ratio of an
		// unknown account's time to the known one's in the same round
		// cancels the slow drift of a machine busy with other tests; the
		// median of those ratios is what is compared. The defect was a
		// factor of three; the margin absorbs a loaded machine's noise.
		for i, name := range []string{"unknown email", "unknown tenant"} {
			ratios := make([]float64, rounds)
			for r := range rounds {
				ratios[r] = float64(took[i+1][r]) / float64(took[0][r])
			}
			slices.Sort(ratios)
			ratio := ratios[rounds/2]
			t.Logf("%s: median time ratio to a known email %.2f (rounds: %.2f)", name, ratio, ratios)
			assert.InDelta(t, 1, ratio, 0.6, "%s answers in %.2f× a known email's time", name, ratio)
		}
	})
}
