package core_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo"
	"github.com/countersign/countersign/core/duo/duotest"
	"github.com/countersign/countersign/core/microsoft"
	"github.com/countersign/countersign/core/microsoft/microsofttest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// msFixture is the engine fixture with a fake Microsoft tenant connected
// for f.client (push on) and its users imported.
type msFixture struct {
	*fixture
	ms   *microsofttest.Server
	conn core.MicrosoftConnectionView
	note string // the PSA integration for ticket notes
}

func msConnector(fake *microsofttest.Server) core.MicrosoftConnector {
	return microsoft.Connector(microsoft.Options{HTTPClient: fake.HTTPClient(), LoginURL: fake.URL(), GraphURL: fake.URL(),
		ConnectorURL: fake.URL(), GraphResource: "https://graph.microsoft.com", MaxRetryWait: 3 * time.Second})
}

func newMSFixture(t *testing.T, st *store.Store, fake *microsofttest.Server) *msFixture {
	t.Helper()
	f := &msFixture{fixture: newFixture(t, st, func(c *core.Config) { c.Microsoft = msConnector(fake) }), ms: fake}
	var err error
	f.conn, err = f.eng.SaveMicrosoftConnection(t.Context(), f.tenant.ID, "tech:"+f.admin.ID,
		core.MicrosoftConnectionInput{ClientID: f.client.ID, Name: "Contoso 365", Config: fake.Config(), PushEnabled: true})
	require.NoError(t, err)
	_, err = f.eng.ImportMicrosoftUsers(t.Context(), f.tenant.ID, "tech:"+f.admin.ID, f.conn.ID)
	require.NoError(t, err)
	in, err := f.eng.PutIntegration(t.Context(), f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
	require.NoError(t, err)
	f.note = in.ID
	return f
}

func (f *msFixture) push(t *testing.T) (core.Verification, error) {
	t.Helper()
	return f.eng.StartMicrosoftPush(t.Context(), core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
		ContactID: f.contact.ID, TicketRef: "4821", IntegrationID: f.note})
}

func (f *msFixture) settle(t *testing.T, id string) core.Verification {
	t.Helper()
	f.eng.Wait()
	return f.verification(t, id)
}

func (f *msFixture) alerts(t *testing.T) []core.Outbound {
	t.Helper()
	f.deliver(t)
	var out []core.Outbound
	for _, m := range f.mail.msgs {
		if strings.HasPrefix(m.Subject, "Countersign alert: Microsoft Authenticator push") {
			out = append(out, m)
		}
	}
	return out
}

const samUPN = "sam@contoso.example"

func TestMicrosoftPushApproved(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := microsofttest.Approve
		approve.Delay = 50 * time.Millisecond
		fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &approve})
		f := newMSFixture(t, st, fake)

		v, err := f.push(t)
		require.NoError(t, err)
		assert.Equal(t, core.StatusSent, v.Status, v.Detail)
		assert.Equal(t, samUPN, v.Destination, "matched by UPN")
		assert.Contains(t, v.Detail, "Approve-only push sent")
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Equal(t, "Approved in Microsoft Authenticator (approve-only push)", v.Detail)
		assert.Equal(t, "Success", v.DeliveryStatus)

		reqs := fake.Requests()
		require.Len(t, reqs, 1)
		assert.Equal(t, v.ProviderRef, reqs[0].ContextID, "the ContextId is kept with the verification")
		assert.Equal(t, microsofttest.PhoneAppNotification, reqs[0].Method)
		hist, err := f.eng.History(t.Context(), f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.Equal(t, core.ShieldGreen, core.ShieldFor(hist, f.clk.Now()).State)
		assert.Subset(t, auditActions(t, f.fixture, v.ID), []string{"verification.started", "verification.sent", core.AuditPushAnswered, "verification.verified"})
		f.deliver(t)
		assert.Contains(t, f.notes.last(t).Text, "VERIFIED by Microsoft Authenticator push (approve-only)")

		// Both tokens expire on Microsoft's side: the next push fetches new ones.
		graphTokens, connTokens := fake.Count("token"), fake.Count("token-v1")
		fake.Advance(2 * time.Hour)
		f.clk.Add(time.Minute)
		v, err = f.push(t)
		require.NoError(t, err)
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Equal(t, graphTokens+1, fake.Count("token"))
		assert.Equal(t, connTokens+1, fake.Count("token-v1"))
	})
}

func TestMicrosoftPushOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		outcome microsofttest.Outcome
		status  core.Status
		detail  string
		alert   bool
		blocked bool // the next push is refused for 24 hours
		counted bool // the push counts toward the limits
	}{
		{name: "deny", outcome: microsofttest.Deny, status: core.StatusFailed, detail: "denied the request", alert: true, blocked: true, counted: true},
		{name: "fraud", outcome: microsofttest.Fraud, status: core.StatusFailed, detail: "reported this request as fraud", alert: true, blocked: true, counted: true},
		{name: "no response", outcome: microsofttest.NoResponse, status: core.StatusFailed, detail: "no response on the phone", counted: true},
		{name: "invalid session", outcome: microsofttest.Outcome{Value: "InvalidSession"}, status: core.StatusFailed, detail: "request expired", counted: true},
		{name: "throttled", outcome: microsofttest.Outcome{Value: "AuthenticationThrottled"}, status: core.StatusFailed, detail: "throttling prompts", counted: true},
		{name: "limit reached", outcome: microsofttest.Outcome{Value: "AuthenticationMethodLimitReached"}, status: core.StatusFailed, detail: "throttling prompts", counted: true},
		{name: "duplicate", outcome: microsofttest.Outcome{Value: "UserAuthFailedDuplicateRequest"}, status: core.StatusFailed, detail: "already pending", counted: true},
		{name: "pending", outcome: microsofttest.Outcome{Value: "AuthenticationPending"}, status: core.StatusFailed, detail: "no answer from the user yet", counted: true},
		{name: "code incorrect", outcome: microsofttest.Outcome{Value: "OathCodeIncorrect"}, status: core.StatusFailed, detail: "code incorrect", counted: true},
		{name: "success without result", outcome: microsofttest.Outcome{Value: "Success"}, status: core.StatusFailed, detail: "without a completed authentication", counted: true},
		{name: "result without success", outcome: microsofttest.Outcome{AuthenticationResult: true, Value: "PhoneAppDenied"}, status: core.StatusFailed, detail: "denied the request", alert: true, blocked: true, counted: true},
		{name: "unknown code", outcome: microsofttest.Outcome{AuthenticationResult: true, Value: "SomethingNew"}, status: core.StatusFailed, detail: `unexpected Microsoft result: "SomethingNew"`, counted: true},
		{name: "method not configured", outcome: microsofttest.Outcome{Value: "AuthenticationMethodNotConfigured"}, status: core.StatusCancelled, detail: "no Microsoft Authenticator push registered"},
		{name: "proof data not found", outcome: microsofttest.Outcome{Value: "ProofDataNotFound"}, status: core.StatusCancelled, detail: "no Microsoft Authenticator push registered"},
		{name: "no default method", outcome: microsofttest.Outcome{Value: "NoDefaultAuthenticationMethodIsConfigured"}, status: core.StatusCancelled, detail: "no default MFA method"},
		{name: "method not supported", outcome: microsofttest.Outcome{Value: "AuthenticationMethodNotSupported"}, status: core.StatusCancelled, detail: "rejected the method"},
		{name: "user not found", outcome: microsofttest.Outcome{Value: "UserNotFound"}, status: core.StatusCancelled, detail: "not found in this Microsoft 365 tenant"},
		{name: "bec access denied", outcome: microsofttest.Outcome{Value: "BecAccessDenied"}, status: core.StatusCancelled, detail: "not found in this Microsoft 365 tenant"},
		{name: "other tenant", outcome: microsofttest.Outcome{Value: "AccessDenied"}, status: core.StatusCancelled, detail: "belongs to a different Microsoft tenant"},
		{name: "tenant blocked", outcome: microsofttest.Outcome{Value: "TenantIsBlocked"}, status: core.StatusCancelled, detail: "blocked this tenant for MFA"},
	}
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				o := tc.outcome
				fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &o})
				f := newMSFixture(t, st, fake)
				v, err := f.push(t)
				require.NoError(t, err)
				v = f.settle(t, v.ID)
				assert.Equal(t, tc.status, v.Status, v.Detail)
				assert.Contains(t, v.Detail, tc.detail)
				assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushAnswered)
				alerts := f.alerts(t)
				if tc.alert {
					require.Len(t, alerts, 1, "the MSP's admins are alerted")
					assert.Equal(t, f.admin.Email, alerts[0].To)
					assert.Contains(t, alerts[0].Text, "ticket 4821")
					assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushAlert)
				} else {
					assert.Empty(t, alerts)
				}
				if tc.status == core.StatusFailed {
					assert.Contains(t, f.notes.last(t).Text, "NOT verified", "the result is written to the ticket")
				} else {
					assert.Contains(t, f.notes.last(t).Text, "CANCELLED")
				}

				// Three more presses within 15 minutes: a counted push leaves
				// two (the limit is 3), an uncounted one three; a denial none.
				allowed := 3
				if tc.counted {
					allowed = 2
				}
				if tc.blocked {
					allowed = 0
				}
				for i := range 3 {
					f.clk.Add(time.Minute)
					_, err = f.push(t)
					f.eng.Wait()
					if i < allowed {
						assert.NoError(t, err, "press %d", i+2)
						continue
					}
					require.Error(t, err, "press %d", i+2)
					if tc.blocked {
						assert.Equal(t, core.KindForbidden, kindOf(err))
						assert.Contains(t, err.Error(), "stopped for 24 hours")
					} else {
						assert.Equal(t, core.KindRateLimited, kindOf(err))
					}
				}
			})
		}
	})
}

// TestMicrosoftPushNotTheApp: a user without Microsoft Authenticator is
// never pushed to (Graph says so live); a user whose preferred method is
// SMS but who has the app gets the app's prompt, because the request
// names it.
func TestMicrosoftPushNotTheApp(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := microsofttest.Approve
		fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN, Default: microsofttest.OneWaySMS, Auto: &approve,
			Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone, microsofttest.MethodSoftwareOath}})
		f := newMSFixture(t, st, fake)
		users, err := f.eng.MicrosoftUsers(t.Context(), f.tenant.ID, f.conn.ID)
		require.NoError(t, err)
		require.Len(t, users, 1)
		assert.False(t, users[0].Authenticator)
		assert.Equal(t, "phone, softwareOath", users[0].Methods)

		v, err := f.push(t)
		require.NoError(t, err)
		assert.Equal(t, core.StatusCancelled, v.Status)
		assert.Contains(t, v.Detail, "no Microsoft Authenticator registered for sam@contoso.example (registered: phone, softwareOath)")
		assert.Empty(t, fake.Requests(), "the connector is never asked")
		assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushUnavailable)

		// The user registers the app after the import (SMS still
		// preferred): the live check finds it, and the prompt is the app's.
		fake.AddUser(microsofttest.User{UPN: samUPN, ObjectID: users[0].ObjectID, Default: microsofttest.OneWaySMS, Auto: &approve,
			Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone, microsofttest.MethodAuthenticator}})
		v, err = f.push(t)
		require.NoError(t, err)
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		pushes := fake.Pushes()
		require.Len(t, pushes, 1)
		assert.Equal(t, microsofttest.PhoneAppNotification, pushes[0].Method, "the app, not the preferred SMS")
		users, err = f.eng.MicrosoftUsers(t.Context(), f.tenant.ID, f.conn.ID)
		require.NoError(t, err)
		assert.True(t, users[0].Authenticator, "the stored flag follows")
		assert.Contains(t, auditActions(t, f.fixture, f.conn.ID), core.AuditMicrosoftMethodsChanged)
	})
}

// TestMicrosoftPushGraphThrottled: the live check of the user's methods
// before a push is a Graph call, and Graph may answer 429 with
// Retry-After. Throttled once, the push waits and goes; throttled beyond
// the client's retries, the push ends cancelled in words — no prompt sent,
// no alert, not counted toward the push limits.
func TestMicrosoftPushGraphThrottled(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := microsofttest.Approve
		fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &approve})
		f := newMSFixture(t, st, fake)

		fake.Throttle(1, 1)
		start := time.Now()
		v, err := f.push(t)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After was honoured")
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Equal(t, 1, fake.Count("throttled"))
		require.Len(t, fake.Pushes(), 1)

		// Retry-After: 0, so the retries run out at once; 3 presses, what
		// the limit allows after the success, then one more: none counts.
		fake.Throttle(50, 0)
		for range 3 {
			f.clk.Add(time.Minute)
			v, err := f.push(t)
			require.NoError(t, err)
			v = f.settle(t, v.ID)
			assert.Equal(t, core.StatusCancelled, v.Status, "not a verification failure")
			assert.Contains(t, v.Detail, "cannot read the user's methods from Microsoft Graph")
			assert.Contains(t, v.Detail, "throttl")
			assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushUnavailable)
		}
		fake.Throttle(0, 0)
		assert.Len(t, fake.Pushes(), 1, "no prompt while Graph throttles")
		assert.Empty(t, f.alerts(t))

		f.clk.Add(time.Minute)
		v, err = f.push(t)
		require.NoError(t, err)
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Len(t, fake.Pushes(), 2)
	})
}

func TestMicrosoftImport(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := &microsofttest.Server{PageSize: 2}
		fake.AddUser(microsofttest.User{UPN: samUPN, Mobile: "+1 555 010 0142", Synced: true})
		fake.AddUser(microsofttest.User{UPN: "s.caller@contoso.onmicrosoft.example", Mail: "sam.caller@contoso.example",
			Methods: []string{microsofttest.MethodPassword}})
		fake.AddUser(microsofttest.User{UPN: "desk@contoso.example", Mail: "shared@contoso.example"})
		fake.AddUser(microsofttest.User{UPN: "gone@contoso.example", Disabled: true})
		fake.AddUser(microsofttest.User{UPN: "nobody@contoso.example"})
		fake.Serve(t)
		f := newMSFixture(t, st, fake)
		ctx := t.Context()
		actor := "tech:" + f.admin.ID
		// A second contact with the first one's e-mail makes "shared" a
		// conflict; a contact of another client is never matched.
		for _, c := range []core.NewContact{
			{ClientID: f.client.ID, FirstName: "Front", LastName: "Desk", Emails: []core.NewDestination{{Value: "shared@contoso.example"}}},
			{ClientID: f.client.ID, FirstName: "Back", LastName: "Desk", Emails: []core.NewDestination{{Value: "shared@contoso.example"}}},
		} {
			_, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", c)
			require.NoError(t, err)
		}
		kim, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: "Sam", LastName: "Two",
			Emails: []core.NewDestination{{Value: "sam.caller@contoso.example"}}})
		require.NoError(t, err)

		// Throttled twice, and the Graph token expiring between pages.
		var once sync.Once
		base := fake.Count("graph")
		fake.BeforeGraph = func(n int) {
			if n == base+2 {
				once.Do(func() { fake.Advance(2 * time.Hour) })
			}
		}
		fake.Throttle(2, 1)
		refused := fake.Count("refused")
		rep, err := f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, actor, f.conn.ID)
		require.NoError(t, err)
		assert.Equal(t, 2, fake.Count("throttled"), "429s waited out")
		assert.Equal(t, refused+1, fake.Count("refused"), "the expired token was refused once, then replaced")
		assert.Equal(t, core.MicrosoftImport{Users: 5, Authenticator: 3, Synced: 1, Matched: 2, Conflicts: 1, Disabled: 1}, rep)

		users, err := f.eng.MicrosoftUsers(ctx, f.tenant.ID, f.conn.ID)
		require.NoError(t, err)
		by := map[string]core.MicrosoftUser{}
		for _, u := range users {
			by[u.UPN] = u
		}
		sam := by[samUPN]
		assert.Equal(t, f.contact.ID, sam.ContactID)
		assert.Equal(t, "upn", sam.MatchedBy)
		assert.Equal(t, core.MicrosoftSynced, sam.Source)
		assert.Equal(t, "+1 555 010 0142", sam.Mobile)
		assert.True(t, sam.Authenticator)
		two := by["s.caller@contoso.onmicrosoft.example"]
		assert.Equal(t, kim.ID, two.ContactID)
		assert.Equal(t, "mail", two.MatchedBy)
		assert.Equal(t, core.MicrosoftCloudOnly, two.Source)
		assert.False(t, two.Authenticator)
		assert.Empty(t, by["desk@contoso.example"].ContactID)
		assert.Equal(t, "several contacts", by["desk@contoso.example"].MatchedBy)
		assert.False(t, by["gone@contoso.example"].Enabled)
		assert.Empty(t, by["nobody@contoso.example"].ContactID)
		assert.Contains(t, auditActions(t, f.fixture, f.conn.ID), core.AuditMicrosoftImported)

		// Throttling beyond the client's bounds fails the import and keeps
		// the users imported before.
		fake.Throttle(50, 1)
		_, err = f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, actor, f.conn.ID)
		assert.Equal(t, core.KindRateLimited, kindOf(err))
		fake.Throttle(0, 0)
		after, err := f.eng.MicrosoftUsers(ctx, f.tenant.ID, f.conn.ID)
		require.NoError(t, err)
		assert.Len(t, after, 5)

		// Without consent to read methods: said in words, nothing replaced.
		fake.DenyMethods = true
		_, err = f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, actor, f.conn.ID)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "UserAuthenticationMethod.Read.All")
	})
}

func TestMicrosoftCrossTenant(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := microsofttest.Approve
		fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &approve})
		f := newMSFixture(t, st, fake)
		ctx := t.Context()
		other := newFixture(t, st, func(c *core.Config) { c.Microsoft = msConnector(fake) })

		// Another MSP's technician names this tenant's contact: not found.
		_, err := other.eng.StartMicrosoftPush(ctx, core.PushRequest{TenantID: other.tenant.ID, TechnicianID: other.tech.ID,
			ContactID: f.contact.ID, TicketRef: "4821"})
		assert.Equal(t, core.KindNotFound, kindOf(err))
		_, err = f.eng.MicrosoftUsers(ctx, other.tenant.ID, f.conn.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))
		_, err = f.eng.ImportMicrosoftUsers(ctx, other.tenant.ID, "tech:"+other.admin.ID, f.conn.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))
		_, err = f.eng.CheckMicrosoftConnection(ctx, other.tenant.ID, "tech:"+other.admin.ID, f.conn.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))
		assert.Equal(t, core.KindNotFound, kindOf(f.eng.DeleteMicrosoftConnection(ctx, other.tenant.ID, "x", f.conn.ID)))
		// Nor may it overwrite the connection by id.
		_, err = other.eng.SaveMicrosoftConnection(ctx, other.tenant.ID, "tech:"+other.admin.ID,
			core.MicrosoftConnectionInput{ID: f.conn.ID, ClientID: other.client.ID, Config: fake.Config()})
		assert.Equal(t, core.KindNotFound, kindOf(err))

		// A contact of another client of the same MSP, with the same
		// e-mail, is not pushed through this client's Microsoft tenant.
		neighbour := core.Client{ID: core.NewID("cli"), TenantID: f.tenant.ID, Name: "Fabrikam", CreatedAt: f.clk.Now()}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateClient(ctx, &neighbour) }))
		c2, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: neighbour.ID, FirstName: "Sam", LastName: "Caller",
			Emails: []core.NewDestination{{Value: samUPN}}})
		require.NoError(t, err)
		_, err = f.eng.StartMicrosoftPush(ctx, core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: c2.ID, TicketRef: "4821"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no Microsoft 365 tenant is connected for this contact's client")
		assert.Empty(t, fake.Requests())

		// The connection's push switch off: refused before Microsoft is asked.
		_, err = f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, "tech:"+f.admin.ID,
			core.MicrosoftConnectionInput{ID: f.conn.ID, ClientID: f.client.ID, Config: core.MicrosoftConfig{TenantID: fake.TenantID, ClientID: fake.ClientID}})
		require.NoError(t, err)
		_, err = f.push(t)
		assert.Equal(t, core.KindForbidden, kindOf(err))
		assert.Empty(t, fake.Requests())
	})
}

func TestMicrosoftConnectionSetup(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := microsofttest.Start(t)
		f := newFixture(t, st, func(c *core.Config) { c.Microsoft = msConnector(fake) })
		ctx := t.Context()
		actor := "tech:" + f.admin.ID
		save := func(in core.MicrosoftConnectionInput) (core.MicrosoftConnectionView, error) {
			return f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, actor, in)
		}

		bad := fake.Config()
		bad.ClientSecret = "wrong"
		_, err := save(core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: bad})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refused the client secret")

		bad = fake.Config()
		bad.ConnectorSecret = ""
		_, err = save(core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: bad, PushEnabled: true})
		assert.Equal(t, core.KindInvalid, kindOf(err), "push needs the connector secret")

		fake.MFAClientDisabled = true
		_, err = save(core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: fake.Config(), PushEnabled: true})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Azure Multi-Factor Auth Client app (981f26a1-7f43-403b-a875-f8b09b8cd720) is disabled")
		fake.MFAClientDisabled = false

		_, err = save(core.MicrosoftConnectionInput{Config: fake.Config()})
		assert.Equal(t, core.KindInvalid, kindOf(err), "a connection belongs to a client")
		bad = fake.Config()
		bad.TenantID = "contoso.example/../x"
		_, err = save(core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: bad})
		assert.Equal(t, core.KindInvalid, kindOf(err))

		c, err := save(core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: fake.Config(), PushEnabled: true})
		require.NoError(t, err)
		assert.Equal(t, "Microsoft 365", c.Name)
		// Edited without secrets: the stored ones are kept (the check passes).
		_, err = save(core.MicrosoftConnectionInput{ID: c.ID, ClientID: f.client.ID, Name: "Contoso",
			Config: core.MicrosoftConfig{TenantID: fake.TenantID, ClientID: fake.ClientID}, PushEnabled: true})
		require.NoError(t, err)
		_, err = save(core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: fake.Config()})
		assert.Equal(t, core.KindConflict, kindOf(err), "one connection per client")

		list, err := f.eng.MicrosoftConnections(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, "Contoso", list[0].Name)
		assert.Equal(t, fake.ClientID, list[0].AppClientID)
		assert.True(t, list[0].HasConnectorSecret)
		assert.True(t, list[0].PushEnabled)

		got, err := f.eng.CheckMicrosoftConnection(ctx, f.tenant.ID, actor, c.ID)
		require.NoError(t, err)
		assert.Equal(t, "ok", got.CheckResult)
		fake.ConnectorDisabled = true
		got, err = f.eng.CheckMicrosoftConnection(ctx, f.tenant.ID, actor, c.ID)
		require.Error(t, err)
		assert.Contains(t, got.CheckResult, "Connector app (1f5530b3")

		// The secrets are sealed: the row holds neither, nor does the audit.
		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			row, err := tx.MicrosoftConnection(ctx, f.tenant.ID, c.ID)
			require.NoError(t, err)
			assert.NotContains(t, string(row.Sealed), microsofttest.DefaultClientSecret)
			assert.NotContains(t, string(row.Sealed), microsofttest.DefaultConnectorSecret)
			return nil
		}))
		evs, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{})
		require.NoError(t, err)
		for _, e := range evs {
			for _, v := range e.Detail {
				assert.NotContains(t, v, "secret.")
			}
		}

		require.NoError(t, f.eng.DeleteMicrosoftConnection(ctx, f.tenant.ID, actor, c.ID))
		assert.Equal(t, core.KindNotFound, kindOf(f.eng.DeleteMicrosoftConnection(ctx, f.tenant.ID, actor, c.ID)))
	})
}

// TestMicrosoftPushBombing presses Push 20 times at once, three rounds:
// one push a round goes out, and the fourth round is refused whole.
func TestMicrosoftPushBombing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN}) // pushes wait for an answer
		f := newMSFixture(t, st, fake)
		press := func() (ok, conflict, limited int) {
			var (
				mu sync.Mutex
				wg sync.WaitGroup
			)
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.push(t)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case kindOf(err) == core.KindConflict:
						conflict++
					case kindOf(err) == core.KindRateLimited:
						limited++
					default:
						t.Errorf("unexpected error: %v", err)
					}
				}()
			}
			wg.Wait()
			return
		}
		for round := 1; round <= 4; round++ {
			ok, conflict, limited := press()
			if round <= 3 {
				assert.Equal(t, 1, ok, "round %d: exactly one push", round)
				assert.Equal(t, 19, conflict, "round %d: the others see it pending", round)
				require.Len(t, fake.WaitPushes(round, 5*time.Second), round)
				require.True(t, fake.Answer(samUPN, microsofttest.NoResponse))
				f.eng.Wait()
			} else {
				assert.Zero(t, ok)
				assert.Equal(t, 20, limited, "the limit refuses every press")
			}
			f.clk.Add(10 * time.Second)
		}
		assert.Len(t, fake.Pushes(), 3, "prompts sent: exactly the limit")
	})
}

func TestMicrosoftRouteAndManualMatch(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := microsofttest.Approve
		fake := microsofttest.Start(t,
			microsofttest.User{UPN: samUPN, Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone}},
			microsofttest.User{UPN: "zsam@contoso.example", Auto: &approve})
		f := newMSFixture(t, st, fake)
		ctx := t.Context()
		actor := "tech:" + f.admin.ID

		r, err := f.eng.MicrosoftRoute(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.False(t, r.Available)
		assert.Equal(t, "no Microsoft Authenticator registered (registered: phone)", r.Reason)
		assert.Equal(t, "Microsoft 365 user sam@contoso.example", r.Destination)
		assert.Equal(t, "Medium — approve-only push", r.Assurance)

		// The admin says Sam is the other account, which has the app.
		users, err := f.eng.MicrosoftUsers(ctx, f.tenant.ID, f.conn.ID)
		require.NoError(t, err)
		var other core.MicrosoftUser
		for _, u := range users {
			if u.UPN == "zsam@contoso.example" {
				other = u
			}
		}
		require.NotEmpty(t, other.ObjectID)
		_, err = f.eng.MatchMicrosoftUser(ctx, f.tenant.ID, actor, f.conn.ID, other.ObjectID, f.contact.ID)
		require.NoError(t, err)
		assert.Contains(t, auditActions(t, f.fixture, f.conn.ID), core.AuditMicrosoftUserMatched)
		r, err = f.eng.MicrosoftRoute(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.True(t, r.Available, r.Reason)
		assert.Contains(t, r.Reason, "expect an Approve/Deny prompt")
		assert.Equal(t, "Microsoft 365 user chosen by an admin, imported 2 Nov 2026", r.Provenance)

		// The manual match wins over the matcher's and survives an import.
		_, err = f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, actor, f.conn.ID)
		require.NoError(t, err)
		v, err := f.push(t)
		require.NoError(t, err)
		assert.Equal(t, "zsam@contoso.example", v.Destination)
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)

		// A pending or refused push shows as the reason.
		deny := microsofttest.Deny
		fake.AddUser(microsofttest.User{UPN: "zsam@contoso.example", ObjectID: other.ObjectID, Auto: &deny})
		f.clk.Add(time.Minute)
		v, err = f.push(t)
		require.NoError(t, err)
		f.settle(t, v.ID)
		r, err = f.eng.MicrosoftRoute(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.False(t, r.Available)
		assert.Contains(t, r.Reason, "stopped for 24 hours")

		// Refusals: a contact of another client, an unknown user, another tenant.
		neighbour := core.Client{ID: core.NewID("cli"), TenantID: f.tenant.ID, Name: "Fabrikam", CreatedAt: f.clk.Now()}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateClient(ctx, &neighbour) }))
		c2, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: neighbour.ID, FirstName: "Pat", LastName: "Other"})
		require.NoError(t, err)
		_, err = f.eng.MatchMicrosoftUser(ctx, f.tenant.ID, actor, f.conn.ID, other.ObjectID, c2.ID)
		assert.Equal(t, core.KindInvalid, kindOf(err))
		_, err = f.eng.MatchMicrosoftUser(ctx, f.tenant.ID, actor, f.conn.ID, "nope", f.contact.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))
		first := users[0]
		if first.ObjectID == other.ObjectID {
			first = users[1]
		}
		_, err = f.eng.MatchMicrosoftUser(ctx, f.tenant.ID, actor, f.conn.ID, first.ObjectID, f.contact.ID)
		assert.Equal(t, core.KindConflict, kindOf(err), "one manual match per contact")
		_, err = f.eng.MatchMicrosoftUser(ctx, "ten_other", actor, f.conn.ID, other.ObjectID, f.contact.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))
		r, err = f.eng.MicrosoftRoute(ctx, f.tenant.ID, c2.ID)
		require.NoError(t, err)
		assert.Equal(t, "no Microsoft 365 tenant connected for this client", r.Reason)
		_, err = f.eng.MicrosoftRoute(ctx, "ten_other", f.contact.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))
	})
}

// TestMicrosoftConnectorCertificate: push on a certificate Countersign
// made, once the admin has added it to the MFA Client service principal.
func TestMicrosoftConnectorCertificate(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := microsofttest.Approve
		fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &approve})
		f := newFixture(t, st, func(c *core.Config) { c.Microsoft = msConnector(fake) })
		ctx := t.Context()
		actor := "tech:" + f.admin.ID
		noSecret := fake.Config()
		noSecret.ConnectorSecret = ""
		conn, err := f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, actor, core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: noSecret})
		require.NoError(t, err)
		_, err = f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, actor, core.MicrosoftConnectionInput{ID: conn.ID, ClientID: f.client.ID, Config: noSecret, PushEnabled: true})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "generate Countersign's certificate")

		certPEM, err := f.eng.GenerateMicrosoftConnectorCertificate(ctx, f.tenant.ID, actor, conn.ID)
		require.NoError(t, err)
		assert.Contains(t, certPEM, "BEGIN CERTIFICATE")
		assert.Contains(t, auditActions(t, f, conn.ID), core.AuditMicrosoftCertGenerated)
		_, err = f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, actor, core.MicrosoftConnectionInput{ID: conn.ID, ClientID: f.client.ID, Config: noSecret, PushEnabled: true})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "add it to the Azure Multi-Factor Auth Client service principal", "not registered yet")

		require.NoError(t, fake.AddConnectorCert(certPEM))
		_, err = f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, actor, core.MicrosoftConnectionInput{ID: conn.ID, ClientID: f.client.ID, Config: noSecret, PushEnabled: true})
		require.NoError(t, err, "the form's save keeps the generated certificate")
		list, err := f.eng.MicrosoftConnections(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, certPEM, list[0].ConnectorCert, "the certificate can be downloaded again")
		assert.False(t, list[0].HasConnectorSecret)

		_, err = f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, actor, conn.ID)
		require.NoError(t, err)
		v, err := f.eng.StartMicrosoftPush(ctx, core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID, TicketRef: "4821"})
		require.NoError(t, err)
		f.eng.Wait()
		v = f.verification(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Zero(t, fake.Count("token-v1"), "no secret was used")
	})
}

// TestPushLimitsAcrossDuoAndMicrosoft: the limits are per person, whatever
// the push: a Duo push pending holds a Microsoft one back, and a denial in
// Duo stops Microsoft pushes for 24 hours too.
func TestPushLimitsAcrossDuoAndMicrosoft(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := microsofttest.Approve
		ms := microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &approve})
		duoFake := duotest.Start(t, duotest.User{Username: samUPN}) // waits for an answer
		conn := duo.Connector(duo.Options{HTTPClient: duoFake.HTTPClient(), AllowHost: func(h string) bool { return h == duoFake.Host() }})
		f := &msFixture{fixture: newFixture(t, st, func(c *core.Config) { c.Microsoft, c.Duo = msConnector(ms), conn }), ms: ms}
		ctx := t.Context()
		actor := "tech:" + f.admin.ID
		_, err := f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{Config: duoFake.Config()})
		require.NoError(t, err)
		f.conn, err = f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, actor, core.MicrosoftConnectionInput{ClientID: f.client.ID, Config: ms.Config(), PushEnabled: true})
		require.NoError(t, err)
		_, err = f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, actor, f.conn.ID)
		require.NoError(t, err)
		req := core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID, TicketRef: "4821"}

		_, err = f.eng.StartDuoPush(ctx, req)
		require.NoError(t, err)
		_, err = f.eng.StartMicrosoftPush(ctx, req)
		require.Error(t, err)
		assert.Equal(t, core.KindConflict, kindOf(err))
		assert.Contains(t, err.Error(), "a Duo push is already waiting")
		assert.Empty(t, ms.Requests(), "Microsoft was not asked")

		require.Len(t, duoFake.WaitPushes(1, 5*time.Second), 1)
		require.True(t, duoFake.Answer(samUPN, duotest.Deny))
		f.eng.Wait()
		f.clk.Add(time.Minute)
		_, err = f.eng.StartMicrosoftPush(ctx, req)
		require.Error(t, err)
		assert.Equal(t, core.KindForbidden, kindOf(err))
		assert.Contains(t, err.Error(), "stopped for 24 hours")
		assert.Empty(t, ms.Requests())
	})
}

// TestMicrosoftPushFailureNotifiesOnCall: a Microsoft push the user did
// not answer is a failed verification like any other, so a policy that
// asks for it tells the on-call users (it wrote only the ticket note
// before, unlike Duo); a push that never reached a phone tells nobody.
func TestMicrosoftPushFailureNotifiesOnCall(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		for _, tc := range []struct {
			name     string
			outcome  microsofttest.Outcome
			status   core.Status
			notified bool
		}{
			{name: "no response", outcome: microsofttest.NoResponse, status: core.StatusFailed, notified: true},
			{name: "not registered", outcome: microsofttest.Outcome{Value: "AuthenticationMethodNotConfigured"}, status: core.StatusCancelled},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o := tc.outcome
				f := newMSFixture(t, st, microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &o}))
				onCallFixture(t, f.fixture, core.NotifyVerificationFailed)
				p := core.DefaultPolicy()
				p.NotifyOnFailure = true
				require.NoError(t, f.eng.PutPolicy(t.Context(), f.tenant.ID, "test", "", p))
				v, err := f.push(t)
				require.NoError(t, err)
				v = f.settle(t, v.ID)
				require.Equal(t, tc.status, v.Status, v.Detail)
				f.deliver(t)
				if tc.notified {
					assert.Contains(t, f.sms.recipients(), "+15550100302", "the night user on call is told")
				} else {
					assert.Empty(t, f.sms.recipients())
				}
			})
		}
	})
}

// TestPushDenialAlertsOnCall: where the tenant has a notification group
// that wants refused pushes, a denial reaches its users on call by their
// own ways (the night user by SMS and voice) instead of every admin's
// mailbox; the alert is still audited with its recipients.
func TestPushDenialAlertsOnCall(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		o := microsofttest.Deny
		f := newMSFixture(t, st, microsofttest.Start(t, microsofttest.User{UPN: samUPN, Auto: &o}))
		onCallFixture(t, f.fixture, core.NotifyPushRefused)
		v, err := f.push(t)
		require.NoError(t, err)
		v = f.settle(t, v.ID)
		require.Equal(t, core.StatusFailed, v.Status, v.Detail)
		assert.Empty(t, f.alerts(t), "no admin e-mail when a group wants the event")
		assert.Contains(t, f.sms.recipients(), "+15550100302", "the night user on call, by SMS")
		assert.Equal(t, []string{"+15550100303"}, f.call.recipients(), "and by voice")
		for _, m := range f.sms.msgs {
			if m.To == "+15550100302" {
				assert.Contains(t, m.Text, "denied a Microsoft Authenticator push")
			}
		}
		assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushAlert)
	})
}

// TestPushBombingAcrossProviders presses Duo's and Microsoft's Push for
// one user 20 times at once (10 each), three rounds: the limits are the
// user's, not a provider's — one push a round goes out to either
// provider, and the fourth round is refused whole (security.md §4).
func TestPushBombingAcrossProviders(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		dfake := &duotest.Server{}
		dfake.AddUser(duotest.User{Username: samUPN}) // pushes wait for an answer
		dfake.Serve(t)
		mfake := microsofttest.Start(t, microsofttest.User{UPN: samUPN})
		conn := duo.Connector(duo.Options{HTTPClient: dfake.HTTPClient(), AllowHost: func(h string) bool { return h == dfake.Host() }})
		f := newFixture(t, st, func(c *core.Config) { c.Duo, c.Microsoft = conn, msConnector(mfake) })
		ctx := t.Context()
		actor := "tech:" + f.admin.ID
		_, err := f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{Name: "Duo", Config: dfake.Config()})
		require.NoError(t, err)
		mc, err := f.eng.SaveMicrosoftConnection(ctx, f.tenant.ID, actor,
			core.MicrosoftConnectionInput{ClientID: f.client.ID, Name: "Contoso 365", Config: mfake.Config(), PushEnabled: true})
		require.NoError(t, err)
		_, err = f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, actor, mc.ID)
		require.NoError(t, err)
		req := core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID, TicketRef: "4821"}

		total := func() int { return len(dfake.Pushes()) + len(mfake.Pushes()) }
		for round := 1; round <= 4; round++ {
			var (
				mu                    sync.Mutex
				wg                    sync.WaitGroup
				ok, conflict, limited int
			)
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if i%2 == 0 {
						_, err = f.eng.StartDuoPush(ctx, req)
					} else {
						_, err = f.eng.StartMicrosoftPush(ctx, req)
					}
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case kindOf(err) == core.KindConflict:
						conflict++
					case kindOf(err) == core.KindRateLimited:
						limited++
					default:
						t.Errorf("unexpected error: %v", err)
					}
				}()
			}
			wg.Wait()
			if round <= 3 {
				assert.Equal(t, 1, ok, "round %d: exactly one push, to either provider", round)
				assert.Equal(t, 19, conflict, "round %d: the others see it pending", round)
				deadline := time.Now().Add(5 * time.Second)
				for total() < round && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				require.Equal(t, round, total(), "round %d", round)
				// The user does not answer.
				if !dfake.Answer(samUPN, duotest.Timeout) {
					require.True(t, mfake.Answer(samUPN, microsofttest.NoResponse))
				}
				f.eng.Wait()
			} else {
				assert.Zero(t, ok)
				assert.Equal(t, 20, limited, "the limit refuses every press")
			}
			f.clk.Add(10 * time.Second)
		}
		assert.Equal(t, 3, total(), "pushes sent to both providers together: exactly the limit")
	})
}
