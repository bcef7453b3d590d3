package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo"
)

// TestDemoSeedsWorkingPushes: `countersign demo` starts its fake Duo and
// points the demo tenant's Duo account at it, again on a restart (the
// fake's port is new each run), so that a new user's first Push works:
// Alice Smith's Duo route is available, her push is approved and the
// shield turns green; Erin Walsh's is a Verified Duo Push, labelled
// Strong. Likewise the fake Microsoft 365 tenant of Globex Logistics:
// Carol's Authenticator push is approved, Dan has no app (issue 19).
func TestDemoSeedsWorkingPushes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var c Config
	for run := range 2 { // the first start, then a restart on the same data
		psaSrv, err := startDemoPSA("127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(psaSrv.stop)
		fake, ms := startDemoDuo(), startDemoMicrosoft()
		t.Cleanup(fake.Close)
		t.Cleanup(ms.Close)
		c, _, _, err = prepareDemo(t.Context(), dir, freeAddr(t), psaSrv, demoFakes{duo: fake, microsoft: ms}, log)
		require.NoError(t, err, "run %d", run)
	}

	st, err := openStore(t.Context(), c)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	keys, err := loadKeys(c)
	require.NoError(t, err)
	eng, err := core.NewEngine(core.Config{Store: st, Renderer: nopRenderer{}, Sealer: keys, CodeKey: keys.Derive("code-hmac"),
		PublicURL: c.PublicURL, Logger: log, Duo: duo.Connector(duo.Options{HTTPClient: c.duoHTTP, AllowHost: c.duoAllowHost}),
		Microsoft: microsoftConnector(c)})
	require.NoError(t, err)
	t.Cleanup(eng.Wait)

	var tenant core.Tenant
	var tech core.Technician
	require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
		if tenant, err = tx.TenantBySlug(t.Context(), demoTenantSlug); err != nil {
			return err
		}
		tech, err = tx.TechnicianByEmail(t.Context(), tenant.ID, demoEmail)
		return err
	}))
	accounts, err := eng.DuoAccounts(t.Context(), tenant.ID)
	require.NoError(t, err)
	require.Len(t, accounts, 1, "one account, re-pointed on the restart")
	contact := func(first string) core.Contact {
		t.Helper()
		list, err := eng.SearchContacts(t.Context(), tenant.ID, core.ContactQuery{Text: first})
		require.NoError(t, err)
		require.NotEmpty(t, list, first)
		return list[0]
	}
	route := func(c core.Contact, m core.Method) core.Route {
		t.Helper()
		routes, err := eng.Routes(t.Context(), tenant.ID, c.ID)
		require.NoError(t, err)
		for _, r := range routes {
			if r.Method == m {
				return r
			}
		}
		t.Fatalf("no %s route for %s", m, c.Name())
		return core.Route{}
	}
	duoRoute := func(c core.Contact) core.Route { t.Helper(); return route(c, core.MethodDuoPush) }
	waitEnd := func(c core.Contact, v core.Verification) core.Verification {
		t.Helper()
		deadline := time.Now().Add(demoDuoDelay + 20*time.Second)
		for v.Status.Open() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			hist, err := eng.History(t.Context(), tenant.ID, c.ID)
			require.NoError(t, err)
			v = hist[0]
		}
		return v
	}

	alice := contact("Alice")
	r := duoRoute(alice)
	require.True(t, r.Available, r.Reason)
	assert.Equal(t, "push to iPhone of alice.smith@acme-dental.example", r.Reason)
	erin := duoRoute(contact("Erin"))
	assert.True(t, erin.Available, erin.Reason)
	assert.Contains(t, erin.Assurance, "Strong — Verified Duo Push")

	v, err := eng.StartDuoPush(t.Context(), core.PushRequest{TenantID: tenant.ID, TechnicianID: tech.ID, ContactID: alice.ID, TicketRef: "5001"})
	require.NoError(t, err)
	require.Equal(t, core.StatusSent, v.Status, v.Detail)
	v = waitEnd(alice, v)
	assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
	hist, err := eng.History(t.Context(), tenant.ID, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, core.ShieldGreen, core.ShieldFor(hist, eng.Now()).State)

	// Microsoft Authenticator: Carol has the app, Dan does not.
	conns, err := eng.MicrosoftConnections(t.Context(), tenant.ID)
	require.NoError(t, err)
	require.Len(t, conns, 1, "one connection, updated on the restart")
	carol := contact("Carol")
	r = route(carol, core.MethodMicrosoftPush)
	require.True(t, r.Available, r.Reason)
	dan := route(contact("Dan"), core.MethodMicrosoftPush)
	assert.False(t, dan.Available)
	assert.Contains(t, dan.Reason, "no Microsoft Authenticator registered")
	v, err = eng.StartMicrosoftPush(t.Context(), core.PushRequest{TenantID: tenant.ID, TechnicianID: tech.ID, ContactID: carol.ID, TicketRef: "5002"})
	require.NoError(t, err)
	v = waitEnd(carol, v)
	assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
}

// TestBrowserDemoDuoPush runs `countersign demo` as a new user would: sign
// in with the printed password, open ticket 5001 in the console, press
// Push for Alice Smith, and the demo's fake Duo approves it — the shield
// turns green with no Duo account and no phone; Erin Walsh's push is a
// Verified Duo Push, labelled Strong, whose code the card shows (issue 19).
func TestBrowserDemoDuoPush(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-data", filepath.Join(t.TempDir(), "demo"), "-listen", addr, "-psa-listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the demo did not stop")
		}
	})
	printed := make(chan string, 1)
	go func() {
		var sb strings.Builder
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Stop with Ctrl+C") {
				printed <- sb.String()
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	var out string
	select {
	case out = <-printed:
	case code := <-done:
		t.Fatalf("demo exited with %d", code)
	case <-time.After(60 * time.Second):
		t.Fatal("the demo printed no address within a minute")
	}
	assert.Contains(t, out, "press Push for Alice Smith")
	m := regexp.MustCompile(`password (\S+)`).FindStringSubmatch(out)
	require.Len(t, m, 2, out)

	tab := NewTab(t)
	tab.SetViewport(1100, 900)
	tab.Visit("http://" + addr + "/?tenant=" + demoTenantSlug)
	tab.WaitVisible("#login")
	tab.Type("#email", demoEmail)
	tab.Type("#password", m[1])
	tab.Click(`#login button[type="submit"]`)
	tab.WaitURL("/app")
	tab.WaitVisible("#tk-number")
	tab.Type("#tk-number", "5001")
	tab.Click("#tk-open")
	tab.WaitText("#contact-name", "Alice Smith")
	tab.WaitText(`#routes-list li[data-method="duo_push"]`, "push to iPhone of alice.smith@acme-dental.example")
	tab.Click(`button[data-route="duo_push"]`)
	tab.WaitText("#active-status", "Push sent to iPhone")
	deadline := time.Now().Add(demoDuoDelay + 10*time.Second)
	var green bool
	for !green && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		tab.Eval(`document.getElementById("shield").classList.contains("green")`, &green)
	}
	assert.True(t, green, "the fake Duo approved and the shield turned green")
	tab.Screenshot("demo-duo-push-verified")

	// Erin's is a Verified Duo Push: labelled Strong, and the card shows
	// the code Duo gives the technician to read to the caller.
	tab.Click("#tk-clear")
	tab.Eval(`document.getElementById("tk-number").value = ""`, nil)
	tab.Type("#tk-number", "5003")
	tab.Click("#tk-open")
	tab.WaitText("#contact-name", "Erin Walsh")
	tab.WaitText(`#routes-list li[data-method="duo_push"]`, "Strong — Verified Duo Push")
	tab.Click(`button[data-route="duo_push"]`)
	tab.WaitText("#active", "enter verification code 708")
	tab.WaitText("#active-status", "Verified Duo Push to Duo user")
	tab.Screenshot("demo-verified-duo-push")
	deadline = time.Now().Add(demoDuoVerifiedDelay + 10*time.Second)
	var shield string
	for !strings.Contains(shield, "via Verified Duo Push") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		tab.Eval(`document.getElementById("shield").textContent`, &shield)
	}
	assert.Contains(t, shield, "via Verified Duo Push at", "the shield names the stronger push")
}
