package memory_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/psa/psatest"
)

// Interface guards: the server is a conformance-suite fake with every
// optional part.
var (
	_ psatest.Fake       = (*memory.Server)(nil)
	_ psatest.PodFake    = (*memory.Server)(nil)
	_ psatest.MemberFake = (*memory.Server)(nil)
	_ psatest.EventFake  = (*memory.Server)(nil)
)

const testKey = "test-key"

func newServer(t *testing.T) (*memory.Server, *httptest.Server) {
	t.Helper()
	srv := memory.NewServer(testKey)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

func TestConformance(t *testing.T) {
	psatest.Run(t, psatest.Harness{
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv, ts := newServer(t)
			c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: testKey, WebhookSecret: memory.DefaultWebhookSecret}, deps)
			require.NoError(t, err)
			return c, shapedFake{srv}
		},
		Descriptor: memory.Descriptor(),
		Settings:   json.RawMessage(`{"base_url":"http://127.0.0.1:1","api_key":"psatest-key","webhook_secret":"psatest-secret"}`),
	})
}

// shapedFake is the memory server as a [psatest.LinkShaper]: the server
// itself has no test dependencies, only a hook that rewrites its links.
type shapedFake struct{ *memory.Server }

func (f shapedFake) SetLinkShape(s psatest.LinkShape) {
	f.SetLinkRewrite(func(u string) string { return psatest.ShapeLink(u, s) })
}

func TestDescriptor(t *testing.T) {
	_, ts := newServer(t)
	d := memory.Descriptor()
	reg, err := psa.NewRegistry(d)
	require.NoError(t, err)
	got, err := reg.Get(memory.ID)
	require.NoError(t, err)
	assert.Equal(t, "Built-in demo PSA", got.Name)

	tests := []struct {
		name    string
		cfg     string
		wantErr bool
	}{
		{name: "ok", cfg: `{"base_url":"` + ts.URL + `","api_key":"` + testKey + `"}`},
		{name: "unknown field", cfg: `{"base_url":"` + ts.URL + `","api_key":"k","apikey":"k"}`, wantErr: true},
		{name: "missing key", cfg: `{"base_url":"` + ts.URL + `"}`, wantErr: true},
		{name: "not a url", cfg: `{"base_url":"acme","api_key":"k"}`, wantErr: true},
		{name: "ftp", cfg: `{"base_url":"ftp://h","api_key":"k"}`, wantErr: true},
		{name: "empty", cfg: ``, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.New(json.RawMessage(tc.cfg), psa.Deps{})
			if tc.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, core.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.Implements(t, (*psa.Checker)(nil), c)
			assert.ErrorIs(t, c.(psa.Checker).Check(t.Context()), core.ErrNotFound, "an empty server has no member")
		})
	}
}

func TestWrongKey(t *testing.T) {
	srv, ts := newServer(t)
	srv.SeedDemo()
	c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: "wrong"}, psa.Deps{})
	require.NoError(t, err)
	_, err = c.GetContact(t.Context(), "101")
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Equal(t, 1, srv.Requests(), "a 401 is not retried")
}

func TestSeedDemo(t *testing.T) {
	srv, ts := newServer(t)
	srv.SeedDemo()
	c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: testKey}, psa.Deps{})
	require.NoError(t, err)
	require.NoError(t, c.Check(t.Context()))

	companies, err := psa.AllCompanies(t.Context(), c, 0)
	require.NoError(t, err)
	assert.Len(t, companies, 3)

	found, err := c.FindContacts(t.Context(), "", psa.ContactSearch{Phone: "+15550100199"})
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, "Carol", found[0].FirstName)

	tk, err := c.GetTicket(t.Context(), "5002")
	require.NoError(t, err)
	require.NotNil(t, tk.Contact)
	assert.Equal(t, "Dan", tk.Contact.FirstName)
}

// countCalls counts calls by op, for TestCallsCounted.
type countCalls map[string]int

func (c countCalls) CountCall(op string, status int) { c[op]++ }

func TestCallsCounted(t *testing.T) {
	srv, ts := newServer(t)
	srv.SeedDemo()
	calls := countCalls{}
	c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: testKey}, psa.Deps{Calls: calls})
	require.NoError(t, err)
	_, err = c.GetTicket(t.Context(), "5001")
	require.NoError(t, err)
	assert.Equal(t, countCalls{"GET /tickets/{id}": 1, "GET /contacts/{id}": 1}, calls)
}

// TestTicketScreenListsNotes checks the PSA's own ticket screen: the
// notes written to the ticket, escaped, with or without the pod, and that
// the plugin links to it.
func TestTicketScreenListsNotes(t *testing.T) {
	srv, ts := newServer(t)
	srv.Seed([]psa.Company{{Ref: "1", Name: "Acme"}}, nil, []psa.Ticket{{Ref: "900", Summary: "Printer <jammed>", CompanyRef: "1", Status: "New"}})
	c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: testKey}, psa.Deps{})
	require.NoError(t, err)
	get := func(path string) (int, string) {
		resp, err := ts.Client().Get(ts.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	status, body := get("/ui/ticket/900")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "No notes on this ticket yet.")
	assert.Contains(t, body, "Printer &lt;jammed&gt;")
	assert.NotContains(t, body, "<iframe", "no pod asked for")

	require.NoError(t, c.AddTicketNote(t.Context(), "900", psa.Note{Text: "Countersign: <b>VERIFIED</b>"}))
	require.NoError(t, c.AddTicketNote(t.Context(), "900", psa.Note{Text: "second", Public: true}))
	status, body = get("/ui/ticket/900?pod=" + url.QueryEscape("https://cs.example/pod/t/i"))
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "Internal note</span><br>Countersign: &lt;b&gt;VERIFIED&lt;/b&gt;")
	assert.Contains(t, body, "Public note</span><br>second")
	assert.Less(t, strings.Index(body, "VERIFIED"), strings.Index(body, "second"), "oldest first")
	assert.Contains(t, body, `<iframe id="pod"`)

	status, _ = get("/ui/ticket/901")
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = get("/ui/contact/5")
	assert.Equal(t, http.StatusBadRequest, status, "a contact screen needs its pod")
	status, _ = get("/ui/ticket/900?pod=javascript:alert(1)")
	assert.Equal(t, http.StatusBadRequest, status)

	// A note to a ticket the PSA does not have says so in the PSA's words.
	err = c.AddTicketNote(t.Context(), "901", psa.Note{Text: "x"})
	require.ErrorIs(t, err, core.ErrNotFound)
	assert.Equal(t, "no such ticket", core.ErrorMessage(err))

	assert.Equal(t, ts.URL+"/ui/ticket/900", c.TicketURL(psa.Ticket{Ref: "900"}))
	assert.Equal(t, ts.URL+"/ui/ticket/a%2Fb", c.TicketURL(psa.Ticket{Ref: "a/b"}))
	assert.Empty(t, c.TicketURL(psa.Ticket{}))
}

// TestRegisterCallbacksReenables checks that registering again reuses the
// webhook, and enables it again when the PSA had disabled it.
func TestRegisterCallbacksReenables(t *testing.T) {
	srv, ts := newServer(t)
	c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: testKey}, psa.Deps{})
	require.NoError(t, err)
	const target = "https://countersign.example/webhooks/psa/acme/int_1"
	regs, err := c.RegisterCallbacks(t.Context(), target)
	require.NoError(t, err)
	require.Len(t, regs, 1)
	assert.True(t, regs[0].Created)

	again, err := c.RegisterCallbacks(t.Context(), target)
	require.NoError(t, err)
	assert.Equal(t, []psa.CallbackRegistration{{Ref: regs[0].Ref, Type: "ticket"}}, again, "reused as it is")

	srv.DisableWebhook(target)
	require.True(t, srv.WebhookDisabled(target))
	again, err = c.RegisterCallbacks(t.Context(), target)
	require.NoError(t, err)
	assert.Equal(t, []psa.CallbackRegistration{{Ref: regs[0].Ref, Type: "ticket", Reenabled: true}}, again)
	assert.False(t, srv.WebhookDisabled(target), "enabled again")
	assert.Equal(t, []string{target}, srv.Webhooks(), "not duplicated")
}

// TestReadAsMember checks the member's own session: ReadAs confirms the
// proof and reads with the member's rights; a member may not use the
// setup routes; the default contact and the ticket's contact are read and
// written through the API.
func TestReadAsMember(t *testing.T) {
	srv, ts := newServer(t)
	srv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}, {Ref: "co2", Name: "Contoso"}},
		[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat"}, {Ref: "c2", CompanyRef: "co2", FirstName: "Chris"}},
		[]psa.Ticket{{Ref: "t1", Summary: "One", CompanyRef: "co1"}, {Ref: "t2", Summary: "Two", CompanyRef: "co2", ContactRef: "c2"}})
	c, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: testKey}, psa.Deps{})
	require.NoError(t, err)
	harper := psa.Member{Ref: "43", Identifier: "hdesk", Name: "Harper Desk"}
	srv.SetMemberCompanies(harper.Ref, "co1")

	_, _, err = c.ReadAs(t.Context(), json.RawMessage(`{"token":"mps_forged"}`))
	assert.Equal(t, core.KindUnauthorized, core.ErrorKind(err))
	as, m, err := c.ReadAs(t.Context(), srv.MemberProof(harper))
	require.NoError(t, err)
	assert.Equal(t, harper.Ref, m.Ref)
	_, err = as.GetContact(t.Context(), "c1")
	require.NoError(t, err)
	_, err = as.GetContact(t.Context(), "c2")
	assert.Equal(t, core.KindForbidden, core.ErrorKind(err), "another company's contact: %v", err)
	_, err = as.GetTicket(t.Context(), "t2")
	assert.Equal(t, core.KindForbidden, core.ErrorKind(err))
	_, err = c.GetContact(t.Context(), "c2")
	assert.NoError(t, err, "the API key sees everything")
	_, err = as.RegisterCallbacks(t.Context(), "https://countersign.example/hook")
	assert.Equal(t, core.KindForbidden, core.ErrorKind(err), "a member session may not change the PSA's setup")
	assert.Contains(t, srv.MemberCalls(), "43 GET /api/v1/contacts/c1")

	ref, err := c.DefaultContact(t.Context(), "co1")
	require.NoError(t, err)
	assert.Empty(t, ref)
	srv.SetDefaultContact("co1", "c1")
	ref, err = as.DefaultContact(t.Context(), "co1")
	require.NoError(t, err)
	assert.Equal(t, "c1", ref)
	_, err = as.DefaultContact(t.Context(), "co2")
	assert.Equal(t, core.KindForbidden, core.ErrorKind(err))

	require.NoError(t, as.SetTicketContact(t.Context(), "t1", "c1"))
	assert.Equal(t, "c1", srv.TicketContact("t1"))
	assert.Error(t, c.SetTicketContact(t.Context(), "t1", "c2"), "a contact of another company")
	assert.Equal(t, core.KindNotFound, core.ErrorKind(c.SetTicketContact(t.Context(), "t9", "c1")))
	assert.Equal(t, "c1", srv.TicketContact("t1"))
}
