package psatest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/psa/psatest"
)

// The suite's own test: each case must fail against a client broken in
// just the way the case is there to catch. The memory PSA (which passes
// the whole suite in its own package) is broken one method at a time, and
// the case runs in a child process, because a failing case must fail a
// test, and that test cannot be this one.

const brokenEnv = "PSATEST_BROKEN"

// broken lists the deliberately broken clients and the case each must fail.
var broken = []struct {
	name, failingCase string
}{
	{"lax-settings", "Descriptor"},
	{"new-dials", "Descriptor"},
	{"uncounted", "CallsCounted"},
	{"check-always-ok", "Checker"},
	{"ticket-only-with-contact", "TicketOnly"},
	{"pod-context-accepts-nothing", "Embedder"},
	{"prover-fails-open", "MemberProver"},
	{"setup-empty", "SetupGuide"},
	{"pods-duplicated", "PodInstaller"},
	{"callbacks-duplicated", "CallbackRegistrar"},
	{"verifier-trusts-body", "CallbackVerifier"},
	{"verifier-oversize", "CallbackVerifier"},
	{"members-first-page-only", "MemberLister"},
	// Clients without reads, which the two cases below once passed
	// without calling anything.
	{"check-only-ignores-context", "ContextCanceled"},
	{"check-only-no-retry", "UnavailableOnce"},
}

func TestBrokenClientsFail(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in a child process")
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenHelper$/^"+b.failingCase+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+b.name)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "case %s passed against the broken client %s:\n%s", b.failingCase, b.name, out)
			assert.Contains(t, string(out), "--- FAIL: TestBrokenHelper/"+b.failingCase, "%s", out)
		})
	}
}

// TestBrokenHelper runs the suite against the broken client named by
// PSATEST_BROKEN; TestBrokenClientsFail starts it.
func TestBrokenHelper(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("started by TestBrokenClientsFail only")
	}
	psatest.Run(t, harness(name))
}

const key = "psatest-key"

func harness(name string) psatest.Harness {
	d := memory.Descriptor()
	switch name {
	case "lax-settings":
		d.New = func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
			var cfg memory.Config
			_ = json.Unmarshal(raw, &cfg) // not strict, errors ignored
			cfg.BaseURL, cfg.APIKey = "http://127.0.0.1:1", "k"
			return memory.New(cfg, deps)
		}
	case "new-dials":
		inner := d.New
		d.New = func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
			if resp, err := deps.HTTP().Get("http://127.0.0.1:1/warm-up"); err == nil {
				resp.Body.Close()
			}
			return inner(raw, deps)
		}
	}
	return psatest.Harness{
		Descriptor: d,
		Settings:   json.RawMessage(`{"base_url":"http://127.0.0.1:1","api_key":"k","webhook_secret":"s3cr3t-value"}`),
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv := memory.NewServer(key)
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			switch name {
			case "uncounted":
				deps.Calls = nil
			case "check-only-no-retry":
				deps.Retry.MaxAttempts = 1
			}
			c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: key, WebhookSecret: memory.DefaultWebhookSecret}, deps)
			require.NoError(t, err)
			return wrap(name, c), srv
		},
	}
}

func wrap(name string, c *memory.Client) psa.Client {
	switch name {
	case "check-always-ok":
		return checkAlwaysOK{c}
	case "members-first-page-only":
		return membersFirstPageOnly{c}
	case "ticket-only-with-contact":
		return ticketOnlyWithContact{c}
	case "pod-context-accepts-nothing":
		return podContextAcceptsNothing{c}
	case "prover-fails-open":
		return proverFailsOpen{c}
	case "setup-empty":
		return setupEmpty{c}
	case "pods-duplicated":
		return podsDuplicated{c}
	case "callbacks-duplicated":
		return callbacksDuplicated{c}
	case "verifier-trusts-body":
		return verifierTrustsBody{c}
	case "verifier-oversize":
		return verifierOversize{c}
	case "check-only-ignores-context":
		return checkOnlyIgnoresContext{c}
	case "check-only-no-retry":
		return checkOnly{c}
	}
	return c
}

type checkAlwaysOK struct{ *memory.Client }

// membersFirstPageOnly drops the cursor: later pages' members are missed.
type membersFirstPageOnly struct{ *memory.Client }

func (b membersFirstPageOnly) ListMembers(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Member], error) {
	p, err := b.Client.ListMembers(ctx, o)
	p.Next = ""
	return p, err
}

func (checkAlwaysOK) Check(context.Context) error { return nil }

type ticketOnlyWithContact struct{ *memory.Client }

func (b ticketOnlyWithContact) GetTicketOnly(ctx context.Context, ref string) (psa.Ticket, error) {
	return b.GetTicket(ctx, ref)
}

type podContextAcceptsNothing struct{ *memory.Client }

func (b podContextAcceptsNothing) PodContext(q url.Values) (psa.PodContext, error) {
	if len(q) == 0 {
		return psa.PodContext{Screen: psa.ScreenTicket}, nil
	}
	return b.Client.PodContext(q)
}

type proverFailsOpen struct{ *memory.Client }

func (b proverFailsOpen) ProveMember(ctx context.Context, proof json.RawMessage) (psa.Member, error) {
	m, err := b.Client.ProveMember(ctx, proof)
	if err != nil && len(proof) > 0 && proof[0] == '{' {
		return psa.Member{Ref: "unknown"}, nil // "the PSA is down, let them in"
	}
	return m, err
}

type setupEmpty struct{ *memory.Client }

func (setupEmpty) Setup(string, string) psa.Setup { return psa.Setup{} }

type podsDuplicated struct{ *memory.Client }

func (b podsDuplicated) InstallPods(ctx context.Context, entries []psa.PodEntry, screens map[psa.Screen]int) ([]psa.InstalledPod, error) {
	out, err := b.Client.InstallPods(ctx, entries, screens)
	for i := range out {
		out[i].Created, out[i].Ref = true, out[i].Ref+"-again"
	}
	return out, err
}

type callbacksDuplicated struct{ *memory.Client }

func (b callbacksDuplicated) RegisterCallbacks(ctx context.Context, url string) ([]psa.CallbackRegistration, error) {
	out, err := b.Client.RegisterCallbacks(ctx, url+"?n="+string(rune('a'+len(url)%26)))
	for i := range out {
		out[i].Created = true
	}
	return out, err
}

type verifierTrustsBody struct{ *memory.Client }

func (b verifierTrustsBody) VerifyCallback(ctx context.Context, _ http.Header, body []byte) (psa.Callback, error) {
	var e struct{ ID, Type, Action, Ref string }
	if err := json.Unmarshal(body, &e); err != nil {
		return psa.Callback{}, err
	}
	return psa.Callback{ID: e.ID, Type: e.Type, Action: e.Action, Ref: e.Ref}, nil
}

type verifierOversize struct{ *memory.Client }

func (b verifierOversize) VerifyCallback(ctx context.Context, h http.Header, body []byte) (psa.Callback, error) {
	if len(body) > psa.MaxInboundBody {
		body = body[:0] // "too big: look at nothing", and let the signature decide
		return psa.Callback{Type: "ticket"}, nil
	}
	return b.Client.VerifyCallback(ctx, h, body)
}

// checkOnly can do nothing but check the connection (and write notes).
type checkOnly struct{ c *memory.Client }

func (b checkOnly) Check(ctx context.Context) error { return b.c.Check(ctx) }
func (b checkOnly) AddTicketNote(ctx context.Context, ref string, n psa.Note) error {
	return b.c.AddTicketNote(ctx, ref, n)
}

type checkOnlyIgnoresContext struct{ c *memory.Client }

func (b checkOnlyIgnoresContext) Check(context.Context) error {
	return b.c.Check(context.Background())
}
