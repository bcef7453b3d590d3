package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

var enrolLinkRE = regexp.MustCompile(`https?://\S+/e/([A-Za-z0-9_-]+)`)

// trayFixture is tenant a with a client that is a company in the memory
// PSA, its contact Pat (mirrored, with an e-mail), and an activated device
// of that client on which testSID and a local administrator were seen.
type trayFixture struct {
	e      *env
	pf     podFixture
	client core.Client
	pat    core.Contact
	cred   string
}

func newTrayFixture(t *testing.T, st *store.Store) *trayFixture {
	t.Helper()
	e := newEnv(t, st)
	f := &trayFixture{e: e, pf: newPodFixture(t, e)}
	ctx := t.Context()
	f.client = core.Client{ID: core.NewID("cli"), TenantID: e.a.tenant.ID, Name: "Fabrikam", PSAKind: memory.ID, PSARef: "co1", CreatedAt: e.clk.Now()}
	require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateClient(ctx, &f.client) }))
	var err error
	f.pat, err = e.eng.CreateContact(ctx, e.a.tenant.ID, "test", "psa", core.NewContact{ClientID: f.client.ID, FirstName: "Pat", LastName: "Pod",
		PSARef: "c1", Emails: []core.NewDestination{{Value: "pat@fabrikam.example", Default: true}}})
	require.NoError(t, err)
	e.makeAdmin(t, e.a)
	d := e.a
	d.client = f.client
	_, f.cred = e.activate(t, e.login(t, e.a), d)
	return f
}

// logTicket logs a ticket as the tray does: the service opens the user's
// one-time "Log a ticket" form, and the user fills it in and sends it. The
// answer is the form's, or the agent API's when the form did not open.
func (f *trayFixture) logTicket(t *testing.T, sid, cred string, fields map[string]string) response {
	t.Helper()
	r := f.e.agentDo(t, http.MethodPost, "/agent/v1/users/"+sid+"/ticket-form", cred, nil)
	if r.status != http.StatusCreated {
		return r
	}
	path := strings.TrimPrefix(r.JSON(t)["url"].(string), publicURL)
	page := f.e.do(t, http.DefaultClient, http.MethodGet, path, "", nil, nil)
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	v := url.Values{"nonce": {nonceFrom(t, page.body)}}
	for k, x := range fields {
		v.Set(k, x)
	}
	return f.e.form(t, http.DefaultClient, path, v, nil)
}

// confirmation returns the token of the last confirmation e-mail.
func (f *trayFixture) confirmation(t *testing.T) string {
	t.Helper()
	f.e.deliver(t)
	msg, _ := f.e.mail.last(t)
	assert.Contains(t, msg.Subject, "Confirmation required for ticket")
	g := enrolLinkRE.FindStringSubmatch(msg.Text)
	require.NotNil(t, g, "no confirmation link in %q", msg.Text)
	return g[1]
}

func patTicket(summary string) map[string]string {
	return map[string]string{"first_name": "Pat", "last_name": "Pod", "email": "Pat@Fabrikam.example", "summary": summary, "details": "Outlook asks for my password again and again."}
}

// TestTrayTicketBindsByConfirmation: an unbound user's first ticket binds
// the Windows user to the contact with that e-mail, only after a person
// confirms the e-mailed link (GET changes nothing, a scanner's POST without
// the typed number changes nothing), and the ticket reaches the PSA once;
// a bound user's next ticket goes straight to the PSA.
func TestTrayTicketBindsByConfirmation(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		psaTickets := func() []psa.Ticket { e.deliver(t); return f.pf.psa.Tickets()[1:] } // the seeded one left out

		r := f.logTicket(t, testSID, f.cred, map[string]string{"first_name": "Pat", "last_name": "Pod", "email": "pat@elsewhere.example", "summary": "Outlook"})
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "not an address your IT provider has for Fabrikam")
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditEnrolmentRefused)
		r = f.logTicket(t, testSID, f.cred, map[string]string{"summary": "Outlook"})
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "an unbound user must give a name: %s", r.body)
		r = f.logTicket(t, "S-1-5-21-9-9-9-1001", f.cred, patTicket("Outlook"))
		assert.Equal(t, http.StatusNotFound, r.status, "a user the agent never reported: %s", r.body)
		r = f.logTicket(t, "not-a-sid", f.cred, patTicket("Outlook"))
		assert.Equal(t, http.StatusBadRequest, r.status)
		r = f.logTicket(t, testSID, "", patTicket("Outlook"))
		assert.Equal(t, http.StatusUnauthorized, r.status, "no credential")
		r = f.logTicket(t, testSID, f.cred, patTicket(strings.Repeat("x", 101)))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "summary too long: %s", r.body)
		assert.Empty(t, e.mail.Messages(), "no e-mail for a refused ticket")

		r = f.logTicket(t, testSID, f.cred, patTicket("Outlook keeps asking for my password"))
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "We sent an e-mail to pat@fabrikam.example")
		token := f.confirmation(t)
		msg, _ := e.mail.last(t)
		assert.Equal(t, "pat@fabrikam.example", msg.To)
		assert.Contains(t, msg.Text, "CONTOSO-PC1")
		assert.Empty(t, psaTickets(), "nothing reaches the PSA before the click")

		page := e.do(t, http.DefaultClient, http.MethodGet, "/e/"+token, "", nil, nil)
		require.Equal(t, http.StatusOK, page.status, "%s", page.body)
		assert.Contains(t, string(page.body), "Confirm your ticket")
		assert.Contains(t, string(page.body), "Outlook keeps asking for my password")
		assert.Equal(t, "no-store", page.header.Get("Cache-Control"))
		status := e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		assert.Equal(t, false, status.JSON(t)["bound"], "GET binds nothing")

		nonce := nonceFrom(t, page.body)
		r = e.form(t, http.DefaultClient, "/e/"+token, url.Values{}, nil)
		assert.Equal(t, http.StatusBadRequest, r.status, "a POST without the page's nonce")
		r = e.form(t, http.DefaultClient, "/e/"+token, url.Values{"nonce": {nonce}}, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a scanner replaying the form without the typed number")
		r = e.form(t, http.DefaultClient, "/e/"+token, url.Values{"nonce": {nonce}, "presence": {presenceFrom(t, page.body)}},
			map[string]string{"Origin": "https://evil.example"})
		assert.Equal(t, http.StatusForbidden, r.status, "another origin")
		status = e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		assert.Equal(t, false, status.JSON(t)["bound"], "nothing bound yet")

		r = e.form(t, http.DefaultClient, "/e/"+token, url.Values{"nonce": {nonce}, "presence": {presenceFrom(t, page.body)}}, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Your ticket is on its way")
		status = e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		require.Equal(t, true, status.JSON(t)["bound"], "%s", status.body)
		assert.Equal(t, string(core.BindFirstTicket), status.JSON(t)["how"])
		tickets := psaTickets()
		require.Len(t, tickets, 1, "the ticket reaches the PSA once")
		assert.Equal(t, "Outlook keeps asking for my password", tickets[0].Summary)
		assert.Equal(t, "co1", tickets[0].CompanyRef)
		assert.Equal(t, "c1", tickets[0].ContactRef)
		assert.Contains(t, f.pf.psa.TicketDescription(tickets[0].Ref), "Outlook asks for my password again and again.")

		r = e.form(t, http.DefaultClient, "/e/"+token, url.Values{"nonce": {nonce}, "presence": {presenceFrom(t, page.body)}}, nil)
		assert.Equal(t, http.StatusGone, r.status, "the link binds once: %s", r.body)
		assert.Contains(t, string(r.body), "already confirmed")
		r = e.do(t, http.DefaultClient, http.MethodGet, "/e/"+strings.Repeat("A", 43), "", nil, nil)
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.NotContains(t, string(r.body), "Fabrikam", "an unknown link names no one")

		mails := e.mail.Len()
		r = f.logTicket(t, testSID, f.cred, map[string]string{"summary": "Printer jam", "details": "Tray 2"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Thank you, Pat Pod. Your ticket is on its way")
		tickets = psaTickets()
		require.Len(t, tickets, 2)
		assert.Equal(t, "Printer jam", tickets[1].Summary)
		assert.Equal(t, "c1", tickets[1].ContactRef)
		assert.Len(t, e.mail.Messages(), mails, "a bound user's ticket needs no confirmation")

		acts := auditActions(t, e, e.a.tenant.ID)
		for _, a := range []string{core.AuditEnrolmentRequested, core.AuditEnrolmentConfirmed, core.AuditBindingConfirmed, core.AuditTicketQueued} {
			assert.Contains(t, acts, a)
		}
		assert.NotContains(t, e.logs.String(), token, "the link token is never logged")
		assert.NotContains(t, auditActions(t, e, e.b.tenant.ID), core.AuditBindingConfirmed, "another tenant's log")
	})
}

// TestTrayTicketConfirmationLimits: only the newest link binds; at most
// three confirmation e-mails an hour per user; an expired link binds
// nothing.
func TestTrayTicketConfirmationLimits(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		var tokens []string
		for i := range 3 {
			r := f.logTicket(t, testSID, f.cred, patTicket("Try "+string(rune('1'+i))))
			require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
			tokens = append(tokens, f.confirmation(t))
		}
		r := f.logTicket(t, testSID, f.cred, patTicket("Try 4"))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "use the newest one")

		page := e.do(t, http.DefaultClient, http.MethodGet, "/e/"+tokens[0], "", nil, nil)
		assert.Equal(t, http.StatusGone, page.status, "a superseded link: %s", page.body)
		assert.Contains(t, string(page.body), "newer confirmation e-mail")

		page = e.do(t, http.DefaultClient, http.MethodGet, "/e/"+tokens[2], "", nil, nil)
		require.Equal(t, http.StatusOK, page.status)
		e.clk.Add(25 * time.Hour)
		r = e.form(t, http.DefaultClient, "/e/"+tokens[2], url.Values{"nonce": {nonceFrom(t, page.body)}, "presence": {presenceFrom(t, page.body)}}, nil)
		assert.NotEqual(t, http.StatusOK, r.status, "a day later the page's nonce and the link are stale")
		page = e.do(t, http.DefaultClient, http.MethodGet, "/e/"+tokens[2], "", nil, nil)
		assert.Equal(t, http.StatusGone, page.status)
		assert.Contains(t, string(page.body), "expired")
		status := e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		assert.Equal(t, false, status.JSON(t)["bound"], "nothing bound")
		r = f.logTicket(t, testSID, f.cred, patTicket("Try 5"))
		assert.Equal(t, http.StatusAccepted, r.status, "an hour later the user may ask again: %s", r.body)
	})
}

// TestTrayTicketForm: "Log a ticket" in the tray opens a one-time page for
// the Windows user the service identified: GET changes nothing; a refused
// field keeps what was typed and the form usable; the first good submit
// sends the confirmation (unbound) or the ticket (bound), a second is
// refused; an expired or unknown form names no one.
func TestTrayTicketForm(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		open := func() (string, string) {
			t.Helper()
			r := e.agentDo(t, http.MethodPost, "/agent/v1/users/"+testSID+"/ticket-form", f.cred, nil)
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			link := r.JSON(t)["url"].(string)
			require.True(t, strings.HasPrefix(link, publicURL+"/t/"), link)
			return strings.TrimPrefix(link, publicURL), strings.TrimPrefix(link, publicURL+"/t/")
		}
		r := e.agentDo(t, http.MethodPost, "/agent/v1/users/S-1-5-21-9-9-9-1001/ticket-form", f.cred, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "a user the agent never reported")

		path, token := open()
		page := e.do(t, http.DefaultClient, http.MethodGet, path, "", nil, nil)
		require.Equal(t, http.StatusOK, page.status, "%s", page.body)
		assert.Contains(t, string(page.body), `name="email"`, "an unbound user gives an e-mail")
		assert.Equal(t, "no-store", page.header.Get("Cache-Control"))
		nonce := nonceFrom(t, page.body)

		bad := url.Values{"nonce": {nonce}, "first_name": {"Pat"}, "last_name": {"Pod"}, "email": {"pat@elsewhere.example"}, "summary": {"VPN <down>"}}
		r = e.form(t, http.DefaultClient, path, bad, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "not an address your IT provider has for Fabrikam")
		assert.Contains(t, string(r.body), `value="VPN &lt;down&gt;"`, "what was typed is kept, escaped")
		r = e.form(t, http.DefaultClient, path, url.Values{"summary": {"VPN"}}, nil)
		assert.Equal(t, http.StatusBadRequest, r.status, "no nonce")
		good := url.Values{"nonce": {nonce}, "first_name": {"Pat"}, "last_name": {"Pod"}, "email": {"pat@fabrikam.example"}, "summary": {"VPN down"}, "details": {"Since this morning"}}
		r = e.form(t, http.DefaultClient, path, good, map[string]string{"Origin": "https://evil.example"})
		assert.Equal(t, http.StatusForbidden, r.status, "another origin")
		r = e.form(t, http.DefaultClient, path, good, nil)
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "We sent an e-mail to pat@fabrikam.example")
		confirm := f.confirmation(t)
		r = e.form(t, http.DefaultClient, path, good, nil)
		assert.Equal(t, http.StatusGone, r.status, "a form is sent once: %s", r.body)
		assert.Contains(t, string(r.body), "sent already")

		// Confirmed, the user is bound: the next form asks no name.
		cpage := e.do(t, http.DefaultClient, http.MethodGet, "/e/"+confirm, "", nil, nil)
		r = e.form(t, http.DefaultClient, "/e/"+confirm, url.Values{"nonce": {nonceFrom(t, cpage.body)}, "presence": {presenceFrom(t, cpage.body)}}, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		path, _ = open()
		page = e.do(t, http.DefaultClient, http.MethodGet, path, "", nil, nil)
		require.Equal(t, http.StatusOK, page.status)
		assert.NotContains(t, string(page.body), `name="email"`)
		assert.Contains(t, string(page.body), "logged for <strong>Pat Pod</strong>")
		r = e.form(t, http.DefaultClient, path, url.Values{"nonce": {nonceFrom(t, page.body)}, "summary": {"Printer jam"}}, nil)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		e.deliver(t)
		got := map[string]string{}
		for _, tk := range f.pf.psa.Tickets()[1:] {
			got[tk.Summary] = tk.ContactRef
		}
		assert.Equal(t, map[string]string{"VPN down": "c1", "Printer jam": "c1"}, got, "each ticket reaches the PSA once, for Pat")

		path, _ = open()
		e.clk.Add(16 * time.Minute)
		page = e.do(t, http.DefaultClient, http.MethodGet, path, "", nil, nil)
		assert.Equal(t, http.StatusGone, page.status, "expired")
		page = e.do(t, http.DefaultClient, http.MethodGet, "/t/"+strings.Repeat("B", 43), "", nil, nil)
		assert.Equal(t, http.StatusNotFound, page.status)
		assert.NotContains(t, string(page.body), "Fabrikam")
		assert.NotContains(t, e.logs.String(), token, "the form's token is never logged")
	})
}

var passwordRE = regexp.MustCompile(`\b([2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4})\b`)

// TestTrayLoginRegister: "Login / Register" binds by an e-mailed password
// typed on the tray's sign-in page: the address must be a contact's; a
// wrong password counts and the fifth ends the registration; the right one
// binds once; a bound user's page says who they are.
func TestTrayLoginRegister(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		openLogin := func(sid string) string {
			t.Helper()
			r := e.agentDo(t, http.MethodPost, "/agent/v1/users/"+sid+"/login-form", f.cred, nil)
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			return strings.TrimPrefix(r.JSON(t)["url"].(string), publicURL)
		}
		path := openLogin(testSID)
		page := e.do(t, http.DefaultClient, http.MethodGet, path, "", nil, nil)
		require.Equal(t, http.StatusOK, page.status, "%s", page.body)
		assert.Contains(t, string(page.body), "Tell us who you are")
		who := url.Values{"nonce": {nonceFrom(t, page.body)}, "action": {"request"}, "first_name": {"Pat"}, "last_name": {"Pod"}, "email": {"pat@elsewhere.example"}}
		r := e.form(t, http.DefaultClient, path, who, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "not an address your IT provider has")
		who.Set("email", "pat@fabrikam.example")
		r = e.form(t, http.DefaultClient, path, who, nil)
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "We sent a password to <strong>pat@fabrikam.example</strong>")
		e.deliver(t)
		msg, _ := e.mail.last(t)
		assert.Equal(t, "pat@fabrikam.example", msg.To)
		password := passwordRE.FindString(msg.Text)
		require.NotEmpty(t, password, "no password in %q", msg.Text)

		page = e.do(t, http.DefaultClient, http.MethodGet, path, "", nil, nil)
		assert.Contains(t, string(page.body), "Type the password we sent", "the page waits for the password")
		nonce := nonceFrom(t, page.body)
		for i := 1; i <= 3; i++ {
			r = e.form(t, http.DefaultClient, path, url.Values{"nonce": {nonce}, "action": {"signin"}, "password": {"2222-2222"}}, nil)
			assert.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
			assert.Contains(t, string(r.body), "tries left")
		}
		status := e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		assert.Equal(t, false, status.JSON(t)["bound"])
		// Typed in lower case, without the dash: still the password.
		typed := strings.ToLower(strings.ReplaceAll(password, "-", " "))
		r = e.form(t, http.DefaultClient, path, url.Values{"nonce": {nonce}, "action": {"signin"}, "password": {typed}}, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "now knows who you are")
		status = e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		require.Equal(t, true, status.JSON(t)["bound"])
		assert.Equal(t, string(core.BindRegister), status.JSON(t)["how"])
		r = e.form(t, http.DefaultClient, path, url.Values{"nonce": {nonce}, "action": {"signin"}, "password": {password}}, nil)
		assert.Equal(t, http.StatusGone, r.status, "the form signs in once")

		page = e.do(t, http.DefaultClient, http.MethodGet, openLogin(testSID), "", nil, nil)
		assert.Contains(t, string(page.body), "knows you as Pat Pod")
		assert.NotContains(t, e.logs.String(), password, "the password is never logged")

		// Five wrong passwords end a registration (the computer's other user).
		path = openLogin("S-1-5-21-1-2-3-500")
		page = e.do(t, http.DefaultClient, http.MethodGet, path, "", nil, nil)
		who.Set("nonce", nonceFrom(t, page.body))
		r = e.form(t, http.DefaultClient, path, who, nil)
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		for i := 1; i <= 4; i++ {
			r = e.form(t, http.DefaultClient, path, url.Values{"nonce": {who.Get("nonce")}, "action": {"signin"}, "password": {"2222-2222"}}, nil)
			assert.Equal(t, http.StatusUnprocessableEntity, r.status)
		}
		r = e.form(t, http.DefaultClient, path, url.Values{"nonce": {who.Get("nonce")}, "action": {"signin"}, "password": {"2222-2222"}}, nil)
		assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "wrong too many times")
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditRegistrationFailed)
	})
}
