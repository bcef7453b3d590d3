package psatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
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
	{"verifier-fresh-ids", "CallbackVerifier"},
	{"members-first-page-only", "MemberLister"},
	// Clients without reads, which the two cases below once passed
	// without calling anything.
	{"check-only-ignores-context", "ContextCanceled"},
	{"check-only-no-retry", "UnavailableOnce"},
	// Contact and ticket writes, and the default contact.
	{"contact-note-dropped", "AddContactNote"},
	{"contact-note-retried-on-5xx", "AddContactNote"},
	{"contact-note-missing-ok", "AddContactNote"},
	{"phone-always-added", "SetContactPhone"},
	{"phone-missing-ok", "SetContactPhone"},
	{"ticket-contact-dropped", "SetTicketContact"},
	{"ticket-contact-missing-ticket-ok", "SetTicketContact"},
	{"default-contact-none", "DefaultContact"},
	{"default-contact-first", "DefaultContact"},
	{"writes-not-retried-on-429", "ContactWriteErrors"},
	{"writes-kind-lost", "ContactWriteErrors"},
	{"writes-ignore-context", "ContactWriteErrors"},
	{"default-contact-kind-lost", "Unauthorized"},
	{"default-contact-ignores-context", "ContextCanceled"},
	{"writes-uncounted", "CallsCounted"},
	// A harness that leaves the descriptor out cannot skip its check.
	{"no-descriptor", "Descriptor"},
	// A fake without the help these cases need cannot skip them.
	{"bare-fake", "Embedder"},
	{"bare-fake", "MemberProver"},
	{"bare-fake", "CallbackVerifier"},
	{"bare-fake", "AddTicketNoteRevokedKeys"},
	{"create-ticket-ignores-context", "ContextCanceled"},
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
	if name == "no-descriptor" {
		d = psa.Descriptor{}
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
			case "check-only-no-retry", "writes-not-retried-on-429":
				deps.Retry.MaxAttempts = 1
			}
			c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: key, WebhookSecret: memory.DefaultWebhookSecret}, deps)
			require.NoError(t, err)
			if name == "writes-uncounted" {
				// Reads counted, writes made by a client that counts nothing.
				uncounted := deps
				uncounted.Calls = nil
				w, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: key, WebhookSecret: memory.DefaultWebhookSecret}, uncounted)
				require.NoError(t, err)
				return writesUncounted{c, w}, srv
			}
			if name == "bare-fake" {
				return c, bareFake{srv}
			}
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
	case "verifier-fresh-ids":
		return &verifierFreshIDs{Client: c}
	case "check-only-ignores-context":
		return checkOnlyIgnoresContext{c}
	case "check-only-no-retry":
		return checkOnly{c}
	case "contact-note-dropped":
		return contactNoteDropped{c}
	case "contact-note-retried-on-5xx":
		return contactNoteRetried{c}
	case "contact-note-missing-ok":
		return contactNoteMissingOK{c}
	case "phone-always-added":
		return phoneAlwaysAdded{c}
	case "phone-missing-ok":
		return phoneMissingOK{c}
	case "ticket-contact-dropped":
		return ticketContactDropped{c}
	case "ticket-contact-missing-ticket-ok":
		return ticketContactMissingOK{c}
	case "default-contact-none":
		return defaultContactNone{c}
	case "default-contact-first":
		return defaultContactFirst{c}
	case "writes-kind-lost":
		return writesKindLost{c}
	case "writes-ignore-context":
		return writesIgnoreContext{c}
	case "default-contact-kind-lost":
		return defaultContactKindLost{c}
	case "default-contact-ignores-context":
		return defaultContactIgnoresContext{c}
	case "create-ticket-ignores-context":
		return createTicketIgnoresContext{c}
	}
	return c
}

// contactNoteDropped says the note was written and writes nothing.
type contactNoteDropped struct{ *memory.Client }

func (contactNoteDropped) AddContactNote(context.Context, string, string) error { return nil }

// contactNoteRetried retries a contact note after any error, 5xx
// included, which may write it twice.
type contactNoteRetried struct{ *memory.Client }

func (b contactNoteRetried) AddContactNote(ctx context.Context, ref, text string) error {
	if err := b.Client.AddContactNote(ctx, ref, text); err != nil {
		return b.Client.AddContactNote(ctx, ref, text)
	}
	return nil
}

// contactNoteMissingOK takes a missing contact for success.
type contactNoteMissingOK struct{ *memory.Client }

func (b contactNoteMissingOK) AddContactNote(ctx context.Context, ref, text string) error {
	if err := b.Client.AddContactNote(ctx, ref, text); !errors.Is(err, core.ErrNotFound) {
		return err
	}
	return nil
}

// phoneAlwaysAdded never replaces the old number.
type phoneAlwaysAdded struct{ *memory.Client }

func (b phoneAlwaysAdded) SetContactPhone(ctx context.Context, ref string, c psa.PhoneChange) error {
	c.Old = ""
	return b.Client.SetContactPhone(ctx, ref, c)
}

// phoneMissingOK takes a missing contact for success.
type phoneMissingOK struct{ *memory.Client }

func (b phoneMissingOK) SetContactPhone(ctx context.Context, ref string, c psa.PhoneChange) error {
	if err := b.Client.SetContactPhone(ctx, ref, c); !errors.Is(err, core.ErrNotFound) {
		return err
	}
	return nil
}

// ticketContactDropped says the contact was set and sets nothing.
type ticketContactDropped struct{ *memory.Client }

func (ticketContactDropped) SetTicketContact(context.Context, string, string) error { return nil }

// ticketContactMissingOK takes a missing ticket for success.
type ticketContactMissingOK struct{ *memory.Client }

func (b ticketContactMissingOK) SetTicketContact(ctx context.Context, ticket, contact string) error {
	if err := b.Client.SetTicketContact(ctx, ticket, contact); !errors.Is(err, core.ErrNotFound) {
		return err
	}
	return nil
}

// defaultContactNone never finds the default contact.
type defaultContactNone struct{ *memory.Client }

func (defaultContactNone) DefaultContact(context.Context, string) (string, error) { return "", nil }

// defaultContactFirst takes the company's first contact for its default.
type defaultContactFirst struct{ *memory.Client }

func (b defaultContactFirst) DefaultContact(ctx context.Context, company string) (string, error) {
	cs, err := b.FindContacts(ctx, company, psa.ContactSearch{})
	if err != nil || len(cs) == 0 {
		return "", err
	}
	return cs[0].Ref, nil
}

// writesKindLost flattens the errors of the contact and ticket writes to
// text, losing their kind.
type writesKindLost struct{ *memory.Client }

func flatten(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("psatest broken: %v", err)
}

func (b writesKindLost) AddContactNote(ctx context.Context, ref, text string) error {
	return flatten(b.Client.AddContactNote(ctx, ref, text))
}

func (b writesKindLost) SetContactPhone(ctx context.Context, ref string, c psa.PhoneChange) error {
	return flatten(b.Client.SetContactPhone(ctx, ref, c))
}

func (b writesKindLost) SetTicketContact(ctx context.Context, ticket, contact string) error {
	return flatten(b.Client.SetTicketContact(ctx, ticket, contact))
}

// writesIgnoreContext makes its ticket write whatever the caller's
// context says.
type writesIgnoreContext struct{ *memory.Client }

func (b writesIgnoreContext) SetTicketContact(_ context.Context, ticket, contact string) error {
	return b.Client.SetTicketContact(context.Background(), ticket, contact)
}

type defaultContactKindLost struct{ *memory.Client }

func (b defaultContactKindLost) DefaultContact(ctx context.Context, company string) (string, error) {
	ref, err := b.Client.DefaultContact(ctx, company)
	return ref, flatten(err)
}

type defaultContactIgnoresContext struct{ *memory.Client }

func (b defaultContactIgnoresContext) DefaultContact(_ context.Context, company string) (string, error) {
	return b.Client.DefaultContact(context.Background(), company)
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

// writesUncounted makes its ticket writes with a client that counts no
// call.
type writesUncounted struct {
	*memory.Client
	w *memory.Client
}

func (b writesUncounted) SetTicketContact(ctx context.Context, ticket, contact string) error {
	return b.w.SetTicketContact(ctx, ticket, contact)
}

// bareFake is the memory fake with nothing but psatest.Fake's methods: no
// pod URLs, member proofs, signed events or revoked keys.
type bareFake struct{ psatest.Fake }

type createTicketIgnoresContext struct{ *memory.Client }

func (b createTicketIgnoresContext) CreateTicket(_ context.Context, nt psa.NewTicket) (psa.Ticket, error) {
	return b.Client.CreateTicket(context.Background(), nt)
}

// verifierFreshIDs gives every delivery a new id, so that the host cannot
// drop a replay.
type verifierFreshIDs struct {
	*memory.Client
	mu sync.Mutex
	n  int
}

func (b *verifierFreshIDs) VerifyCallback(ctx context.Context, h http.Header, body []byte) (psa.Callback, error) {
	cb, err := b.Client.VerifyCallback(ctx, h, body)
	if err != nil {
		return cb, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	cb.ID = fmt.Sprintf("delivery-%d", b.n)
	return cb, nil
}
