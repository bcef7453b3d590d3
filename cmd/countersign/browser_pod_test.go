package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/store"
)

// AddIntegration stores an integration of the test tenant, its config
// sealed with the server's master key as the console would, and returns
// its id.
func (s *testServer) AddIntegration(t *testing.T, kind, name string, cfg any) string {
	t.Helper()
	ctx := t.Context()
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	st, err := store.Open(ctx, "sqlite", s.DB)
	require.NoError(t, err)
	defer st.Close()
	keys, err := loadKeys(Config{MasterKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))})
	require.NoError(t, err)
	eng, err := core.NewEngine(core.Config{Store: st, Renderer: nopRenderer{}, Sealer: keys, CodeKey: keys.Derive("code-hmac"),
		PublicURL: s.URL, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	var tenant core.Tenant
	require.NoError(t, st.View(ctx, func(tx core.Tx) error {
		tenant, err = tx.TenantBySlug(ctx, testTenantSlug)
		return err
	}))
	in, err := eng.PutIntegration(ctx, tenant.ID, "test", core.Integration{Kind: kind, Name: name, Config: raw})
	require.NoError(t, err)
	return in.ID
}

// FrameTab drives the cross-site iframe of tb whose URL contains part.
// Chromium runs a cross-site frame in a process of its own (an OOPIF), so
// it is a target of its own that chromedp attaches to.
func (tb *Tab) FrameTab(t *testing.T, part string) *Tab {
	t.Helper()
	var id target.ID
	deadline := time.Now().Add(waitTimeout)
	for id == "" && time.Now().Before(deadline) {
		infos, err := chromedp.Targets(tb.Ctx)
		require.NoError(t, err)
		for _, in := range infos {
			if in.Type == "iframe" && strings.Contains(in.URL, part) {
				id = in.TargetID
			}
		}
		if id == "" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if id == "" {
		tb.Fail("find the iframe showing "+part, fmt.Errorf("no such frame target"))
	}
	ctx, cancel := chromedp.NewContext(tb.Ctx, chromedp.WithTargetID(id))
	return startFrameTab(t, ctx, cancel)
}

// startFrameTab is startTab for a frame: no viewport of its own (the
// iframe's size is the PSA page's).
func startFrameTab(t *testing.T, ctx context.Context, cancel context.CancelFunc) *Tab {
	t.Helper()
	fr := &Tab{t: t, Ctx: ctx}
	chromedp.ListenTarget(ctx, fr.onEvent)
	t.Cleanup(func() {
		for _, e := range fr.errs {
			t.Errorf("pod frame console: %s", e)
		}
		cancel()
	})
	if err := runBounded(ctx, browserStartTimeout); err != nil {
		t.Fatalf("attach to the pod's frame: %v", err)
	}
	return fr
}

// signInPopOut clicks the pod's Sign in button, completes the sign-in (with
// TOTP enrolment when totpSecret is "") in the pop-out it opens, and
// returns the TOTP secret.
func (s *testServer) signInPopOut(t *testing.T, pod *Tab, email, password, totpSecret string) string {
	t.Helper()
	pod.WaitVisible("#signin")
	popc := chromedp.WaitNewTarget(pod.Ctx, func(in *target.Info) bool { return strings.Contains(in.URL, "/pod/signin") })
	pod.Click("#signin")
	var popID target.ID
	select {
	case popID = <-popc:
	case <-time.After(waitTimeout):
		pod.Fail("open the sign-in pop-out", fmt.Errorf("no pop-out window opened"))
	}
	ctx, cancel := chromedp.NewContext(pod.Ctx, chromedp.WithTargetID(popID))
	pop := startFrameTab(t, ctx, cancel)
	pop.WaitVisible("#login")
	pop.Screenshot("pod-signin-popout")
	pop.Type("#email", email)
	pop.Type("#password", password)
	if totpSecret != "" {
		code, err := totp.GenerateCode(totpSecret, time.Now().Add(30*time.Second))
		require.NoError(t, err)
		pop.Type("#totp", code)
	}
	pop.Click(`#login button[type="submit"]`)
	if totpSecret == "" {
		pop.WaitVisible("#enroll")
		totpSecret = pop.Text("#enroll-secret")
		code, err := totp.GenerateCode(totpSecret, time.Now())
		require.NoError(t, err)
		pop.Type("#enroll-code", code)
		pop.Click(`#enroll button[type="submit"]`)
	}
	return totpSecret
}

// TestBrowserPod runs the pod inside a PSA's page on another site: the
// memory PSA's ticket screen at 127.0.0.1 frames the pod from localhost.
// Signing in goes through the pop-out; the pod's partitioned cookie then
// works inside the frame (and in a second frame of the same PSA); the
// SMS-code flow turns the shield green; the result lands on the PSA ticket
// as an internal note.
// podCallers reads the pod's caller list, in order.
func podCallers(t *testing.T, pod *Tab) []string {
	t.Helper()
	var names []string
	pod.Eval(`[...document.querySelectorAll("#pod-contact option")].map(o => o.textContent)`, &names)
	return names
}

// wantCallers is TestBrowserPod's caller list: the ticket's contact first,
// marked, then the company's others by name.
var wantCallers = []string{"Pat Pod (ticket contact)", "Alex Admin", "Max Manager"}

func TestBrowserPod(t *testing.T) {
	s := startServer(t)
	psaSrv := memory.NewServer("psa-key-77")
	psaSrv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{
			{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Label: "Mobile", Default: true}},
				Emails: []psa.Email{{Address: "pat@fabrikam.example", Default: true}}},
			{Ref: "c2", CompanyRef: "co1", FirstName: "Max", LastName: "Manager", Phones: []psa.Phone{{Number: "(555) 010-0178", Default: true}}},
			// After the others in the PSA's order, first by name.
			{Ref: "c3", CompanyRef: "co1", FirstName: "Alex", LastName: "Admin", Phones: []psa.Phone{{Number: "(555) 010-0179", Default: true}}},
		},
		[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-77"})
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID
	screen := func(width int) string {
		// The w= parameter tells the frames of the two screens apart.
		return fmt.Sprintf("%s/ui/ticket/900?width=%d&pod=%s", psaURL, width, url.QueryEscape(fmt.Sprintf("%s?w=%d", podURL, width)))
	}

	tab := NewTab(t)
	tab.SetViewport(1000, 900)
	tab.Visit(screen(600))
	pod := tab.FrameTab(t, "w=600")
	s.signInPopOut(t, pod, techEmail, techPassword, "")

	// The pop-out posted its handoff back; the pod signs itself in.
	pod.WaitVisible("#pod-main")
	pod.WaitText("#contact-name", "Pat Pod")
	pod.WaitText("#pod-title", "Ticket #900")
	pod.WaitTrue("the live connection", `document.getElementById("live").dataset.state === "online"`)
	pod.CheckA11y("pod")
	tab.Screenshot("pod-600")
	// Each destination says what it is, which is default and where it
	// came from (the e-mail has no label in the PSA).
	assert.Equal(t, []destRow{
		{Value: "Mobile: ••••••••••77", Badge: "default phone", Meta: "Never verified · from Built-in demo PSA"},
		{Value: "E-mail: p•••@fabrikam.example", Badge: "default e-mail", Meta: "Never verified · from Built-in demo PSA"},
	}, destRows(t, pod))
	// The ways to verify say where each number came from in words, not
	// the source's identifier (psa:memory).
	pod.WaitTrue("the ways to verify", `!!document.querySelector('#routes-list li[data-method="sms_code"] button')`)
	smsRoute := pod.Text(`#routes-list li[data-method="sms_code"]`)
	assert.Regexp(t, regexp.MustCompile(`\(from Built-in demo PSA on \d{1,2} [A-Z][a-z]{2} \d{4}\)`), smsRoute)
	assert.NotContains(t, pod.Text("#routes-list"), "psa:")

	seen := len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#check")
	code := s.WaitForSMSCode(t, "+15550100177", seen)
	pod.Type("#code", code)
	pod.Click(`#check button[type="submit"]`)
	pod.WaitClass("#shield", "green")
	pod.WaitText("#shield", "Verified by Jane Tech")
	pod.WaitTrue("the phone's last verification", `document.querySelector("#dests tbody tr .dest-meta").textContent.startsWith("Last verified")`)
	tab.Screenshot("pod-600-verified")

	deadline := time.Now().Add(waitTimeout)
	for len(psaSrv.Notes("900")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes := psaSrv.Notes("900")
	require.Len(t, notes, 1, "the result is written to the PSA ticket")
	assert.False(t, notes[0].Public)
	assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by SMS code")

	// Switching to another contact of the company asks for a note.
	pod.Click("#pod-load-contacts")
	pod.WaitTrue("the company's contacts", `document.querySelectorAll("#pod-contact option").length === 3`)
	// The ticket's contact first, marked; the others by name.
	assert.Equal(t, wantCallers, podCallers(t, pod))
	pod.Run("pick another caller", chromedp.SetValue("#pod-contact", "", chromedp.ByID))
	pod.Eval(`(() => { const s = document.getElementById("pod-contact");
		s.value = [...s.options].find(o => o.textContent.startsWith("Max")).value;
		s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	pod.WaitText("#contact-name", "Max Manager")
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#note-form")
	pod.WaitText("#note-label", "instead of the ticket's contact")
	tab.Screenshot("pod-600-note")
	pod.Type("#note-text", "Caller is Pat's manager")
	seen = len(s.Twilio.Messages())
	pod.Click("#note-send")
	pod.WaitVisible("#check")
	s.WaitForSMSCode(t, "+15550100178", seen)
	pod.WaitTrue("the note in the history", `document.getElementById("history").textContent.includes("Caller is Pat's manager")`)

	// The same PSA page at 800 px, in the same browser: the partitioned
	// cookie is there, so no sign-in this time.
	tab2 := tab.Sibling(t)
	tab2.SetViewport(1000, 900)
	tab2.Visit(screen(800))
	pod2 := tab2.FrameTab(t, "w=800")
	pod2.WaitVisible("#pod-main")
	pod2.WaitClass("#shield", "green")
	// All three are mirrored now: the list the pod starts with (from the
	// store, by last name) has the same order.
	assert.Equal(t, wantCallers, podCallers(t, pod2))
	tab2.Screenshot("pod-800")

	// A browser that never signed in gets the sign-in screen, not data.
	stranger := NewTab(t)
	stranger.Visit(strings.Replace(screen(800), "w%3D800", "w%3D801", 1))
	sp := stranger.FrameTab(t, "w=801")
	sp.WaitVisible("#signin")
	var text string
	sp.Eval(`document.body.innerText`, &text)
	assert.NotContains(t, text, "Pat Pod")
}
