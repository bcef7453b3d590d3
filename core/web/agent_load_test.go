package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAgentLongPollLoad holds many simulated agents on the long-poll
// channel over loopback HTTP and measures how fast workstation prompts
// reach them, and what the process's heap grows by. It runs 300 agents by
// default; COUNTERSIGN_LOAD_AGENTS=5000 gives the figure of issue 16.
func TestAgentLongPollLoad(t *testing.T) {
	n := 300
	if v := os.Getenv("COUNTERSIGN_LOAD_AGENTS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	const prompts = 100
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ctx := t.Context()
	key, err := e.eng.ActivationKey(ctx, e.a.tenant.ID, "test", e.a.client.ID)
	require.NoError(t, err)

	type simAgent struct {
		dev  core.Device
		cred string
		sid  string
		got  chan time.Time
	}
	agents := make([]*simAgent, n)
	setup := time.Now()
	for i := range agents {
		sid := fmt.Sprintf("S-1-5-21-1-2-3-%d", 2000+i)
		d, cred, err := e.eng.Activate(ctx, key, core.DeviceReport{Name: fmt.Sprintf("PC-%05d", i), OS: "Windows 11",
			Users: []core.DeviceUser{{SID: sid, Account: fmt.Sprintf(`CONTOSO\u%d`, i), LoggedOn: true}}})
		require.NoError(t, err)
		agents[i] = &simAgent{dev: d, cred: cred, sid: sid, got: make(chan time.Time, 4)}
	}
	targets := make([]core.Contact, prompts)
	for i := range targets {
		step := max(n/prompts, 1)
		a := agents[(i*step)%n]
		c, err := e.eng.CreateContact(ctx, e.a.tenant.ID, "test", "manual", core.NewContact{ClientID: e.a.client.ID,
			FirstName: "User", LastName: strconv.Itoa(i), Emails: []core.NewDestination{{Value: fmt.Sprintf("u%d@contoso.example", i), Default: true}}})
		require.NoError(t, err)
		_, err = e.eng.AssignUser(ctx, e.a.tenant.ID, "test", a.dev.ID, a.sid, c.ID)
		require.NoError(t, err)
		targets[i] = c
	}
	t.Logf("setup of %d devices: %s", n, time.Since(setup).Round(time.Millisecond))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	tr := &http.Transport{MaxIdleConnsPerHost: n + 10, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	pollCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var errs atomic.Int64
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pollCtx.Err() == nil {
				req, _ := http.NewRequestWithContext(pollCtx, http.MethodGet, e.srv.URL+"/agent/v1/tasks?wait=30", nil)
				req.Header.Set("Authorization", "Bearer "+a.cred)
				res, err := hc.Do(req)
				if err != nil {
					if pollCtx.Err() == nil {
						errs.Add(1)
						time.Sleep(50 * time.Millisecond)
					}
					continue
				}
				var body struct {
					Tasks []json.RawMessage `json:"tasks"`
				}
				err = json.NewDecoder(res.Body).Decode(&body)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				for range body.Tasks {
					a.got <- time.Now()
				}
			}
		}()
	}
	t.Cleanup(func() { stop(); wg.Wait() })
	require.Eventually(t, func() bool { return e.eng.Waiting() >= n }, 2*time.Minute, 20*time.Millisecond,
		"not every agent is waiting on the long-poll")
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)

	tech := e.a.tech
	latencies := make([]time.Duration, 0, prompts)
	for i, c := range targets {
		step := max(n/prompts, 1)
		a := agents[(i*step)%n]
		start := time.Now()
		_, err := e.eng.StartPrompt(ctx, core.PromptRequest{TenantID: e.a.tenant.ID, TechnicianID: tech.ID, ContactID: c.ID})
		require.NoError(t, err)
		select {
		case at := <-a.got:
			latencies = append(latencies, at.Sub(start))
		case <-time.After(30 * time.Second):
			t.Fatalf("prompt %d did not reach its agent", i)
		}
	}
	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	inuse := func(m runtime.MemStats) float64 { return float64(m.HeapInuse+m.StackInuse) / (1 << 20) }
	t.Logf("%d agents long-polling: heap+stacks in use %.1f MiB (%.1f MiB before the polls; server and simulated agents share the process), %d goroutines; "+
		"prompt delivery over %d prompts: p50 %s, p99 %s, max %s; poll errors %d",
		n, inuse(during), inuse(before), runtime.NumGoroutine(), len(latencies),
		p(0.5).Round(100*time.Microsecond), p(0.99).Round(100*time.Microsecond), latencies[len(latencies)-1].Round(100*time.Microsecond), errs.Load())
	assert.Less(t, p(0.99), 2*time.Second, "p99 prompt delivery")
	assert.Zero(t, errs.Load(), "long-poll errors")
}
