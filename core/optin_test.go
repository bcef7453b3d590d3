package core_test

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var optInLinkRE = regexp.MustCompile(`https://verify\.example\.com/o/([^/\s]+)/([A-Za-z0-9_-]{43})`)

// optInFixture is the engine fixture with a PSA client and contact (of a
// "memory" integration) beside the local contact, and captures for the
// contact writes the outbox makes.
type optInFixture struct {
	*fixture
	writes *capture // OutboxContactNote and OutboxContactPhone
	psa    core.Contact
	integ  core.Integration
}

func newOptInFixture(t *testing.T, st *store.Store) *optInFixture {
	t.Helper()
	writes := &capture{}
	f := newFixture(t, st, func(c *core.Config) {
		c.Senders[core.OutboxContactNote] = writes
		c.Senders[core.OutboxContactPhone] = writes
	})
	o := &optInFixture{fixture: f, writes: writes}
	ctx := t.Context()
	cl := core.Client{ID: core.NewID("cli"), TenantID: f.tenant.ID, Name: "Fabrikam", PSAKind: "memory", PSARef: "1", CreatedAt: f.clk.Now()}
	o.integ = core.Integration{ID: core.NewID("int"), TenantID: f.tenant.ID, Kind: "memory", Name: "Demo PSA", Config: []byte("x"), CreatedAt: f.clk.Now(), UpdatedAt: f.clk.Now()}
	require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateClient(ctx, &cl); err != nil {
			return err
		}
		return tx.PutIntegration(ctx, &o.integ)
	}))
	var err error
	o.psa, err = f.eng.CreateContact(ctx, f.tenant.ID, "psa:memory", "psa:memory", core.NewContact{ClientID: cl.ID, FirstName: "Pat", LastName: "Psa", PSARef: "2001",
		Phones: []core.NewDestination{{Value: "+1 (555) 010-0177", Label: "Mobile"}}, Emails: []core.NewDestination{{Value: "pat@fabrikam.example"}}})
	require.NoError(t, err)
	f.deliver(t)
	f.mail.reset()
	return o
}

// link returns the tenant slug and token of the newest opt-in link mailed or texted.
func optInLink(t *testing.T, c *capture) (string, string) {
	t.Helper()
	m := c.last(t)
	g := optInLinkRE.FindStringSubmatch(m.Text)
	require.NotNil(t, g, "no opt-in link in %q", m.Text)
	return g[1], g[2]
}

func actions(evs []core.AuditEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

// TestOptInReview: the bulk review flags numbers written without a
// country code or not in E.164, and says why a form cannot go by a channel.
func TestOptInReview(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newOptInFixture(t, st)
		ctx := t.Context()
		none, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: "No", LastName: "Phone",
			Emails: []core.NewDestination{{Value: "no@contoso.example"}}})
		require.NoError(t, err)
		uk, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: "Una", LastName: "Kay",
			Phones: []core.NewDestination{{Value: "+447700900123", Label: "Mobile"}}})
		require.NoError(t, err)

		all, err := f.eng.OptInCandidates(ctx, f.tenant.ID, core.OptInFilter{})
		require.NoError(t, err)
		by := map[string]core.OptInCandidate{}
		for _, c := range all {
			by[c.Contact.ID] = c
		}
		require.Len(t, by, 4)
		sam := by[f.contact.ID]
		assert.Equal(t, "+15550100142", sam.Phone.Value, "the mobile, not the home number")
		require.Len(t, sam.Flags, 1)
		assert.Contains(t, sam.Flags[0], "no country code")
		assert.Contains(t, sam.Flags[0], "(555) 010-0142")
		assert.True(t, sam.Unsure, "the region was assumed")
		assert.Empty(t, sam.NoEmail)
		assert.Empty(t, sam.NoSMS)
		pat := by[f.psa.ID]
		require.Len(t, pat.Flags, 1)
		assert.Contains(t, pat.Flags[0], "not written in E.164")
		assert.False(t, pat.Unsure, "it has its country code")
		assert.Empty(t, by[uk.ID].Flags, "written in E.164")
		assert.Equal(t, "no e-mail address on record", by[uk.ID].NoEmail)
		assert.Contains(t, by[uk.ID].NoSMS, "GB", "texts to the UK are not allowed for this tenant")
		assert.Equal(t, "no valid mobile number on record to ask about", by[none.ID].NoEmail)
		assert.Equal(t, "no valid mobile number on record", by[none.ID].NoSMS)

		// Filters: company, name, phone (any format).
		got, err := f.eng.OptInCandidates(ctx, f.tenant.ID, core.OptInFilter{ClientID: f.psa.ClientID})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, f.psa.ID, got[0].Contact.ID)
		got, err = f.eng.OptInCandidates(ctx, f.tenant.ID, core.OptInFilter{Name: "una"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		got, err = f.eng.OptInCandidates(ctx, f.tenant.ID, core.OptInFilter{Phone: "555 010 0142"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, f.contact.ID, got[0].Contact.ID)
		_, err = f.eng.OptInCandidates(ctx, f.tenant.ID, core.OptInFilter{Phone: "call me"})
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		other, err := f.eng.OptInCandidates(ctx, f.tenant.ID, core.OptInFilter{ClientID: "cli_other"})
		require.NoError(t, err)
		assert.Empty(t, other)
	})
}

// TestOptInFlow: a form by e-mail (and its PSA note) → the page shows it
// without changing anything → consent, with the date on the contact →
// the link is spent; a STOP later wins over the consent.
func TestOptInFlow(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newOptInFixture(t, st)
		ctx := t.Context()
		res, err := f.eng.SendOptInForms(ctx, f.tech, []string{f.psa.ID}, "")
		require.NoError(t, err)
		assert.Equal(t, 1, res.Sent)
		f.deliver(t)
		mail := f.mail.last(t)
		assert.Equal(t, "pat@fabrikam.example", mail.To)
		assert.Contains(t, mail.Subject, "Acme IT")
		assert.Contains(t, mail.Text, "STOP")
		assert.Contains(t, mail.Text, "7 days")
		note := f.writes.last(t)
		assert.Equal(t, core.OutboxContactNote, note.Kind)
		assert.Equal(t, "2001", note.To)
		assert.Equal(t, f.integ.ID, note.Integration)
		assert.Contains(t, note.Text, "Pat Psa")
		assert.Contains(t, note.Text, "jane")
		assert.NotRegexp(t, optInLinkRE, note.Text, "the note never carries the end user's link")
		assert.Contains(t, actions(f.auditOf(t)), core.AuditOptInSent)

		slug, token := optInLink(t, f.mail)
		assert.Equal(t, f.tenant.Slug, slug)
		page, err := f.eng.OptInView(ctx, slug, token)
		require.NoError(t, err)
		assert.Equal(t, "Pat", page.ContactName)
		assert.Equal(t, core.MaskDestination(core.DestPhone, "+15550100177"), page.MaskedPhone)
		assert.False(t, page.Answered)
		again, err := f.eng.OptInView(ctx, slug, token)
		require.NoError(t, err)
		assert.Equal(t, page, again, "viewing changes nothing")
		states, err := f.eng.OptInStates(ctx, f.tenant.ID, []core.Contact{f.psa})
		require.NoError(t, err)
		assert.False(t, states[f.psa.ID].OptedIn)

		f.clk.Add(time.Hour)
		page, err = f.eng.AnswerOptIn(ctx, slug, token, core.OptInAnswer{Consent: true, IP: "203.0.113.9", UserAgent: "test"})
		require.NoError(t, err)
		assert.True(t, page.Answered)
		assert.True(t, page.Consented)
		states, err = f.eng.OptInStates(ctx, f.tenant.ID, []core.Contact{f.psa, f.contact})
		require.NoError(t, err)
		assert.True(t, states[f.psa.ID].OptedIn)
		assert.True(t, states[f.psa.ID].OptedInAt.Equal(f.clk.Now()))
		assert.False(t, states[f.contact.ID].OptedIn, "only the contact that consented")
		assert.Contains(t, actions(f.auditOf(t)), core.AuditOptInConsented)

		// Reused: refused, nothing changes.
		n := len(f.auditOf(t))
		_, err = f.eng.AnswerOptIn(ctx, slug, token, core.OptInAnswer{Consent: false})
		assert.Equal(t, core.KindConflict, core.ErrorKind(err))
		assert.Len(t, f.auditOf(t), n)
		page, err = f.eng.OptInView(ctx, slug, token)
		require.NoError(t, err)
		assert.True(t, page.Answered && page.Consented, "the first answer stands")

		// STOP wins over the consent.
		_, err = f.eng.ReceiveSMS(ctx, f.tenant.ID, core.InboundSMS{MessageSID: sid(9100), From: "+15550100177", To: "+15550109999", Body: "STOP"})
		require.NoError(t, err)
		states, err = f.eng.OptInStates(ctx, f.tenant.ID, []core.Contact{f.psa})
		require.NoError(t, err)
		assert.False(t, states[f.psa.ID].OptedIn)
		assert.True(t, states[f.psa.ID].OptedOut)
	})
}

// TestOptInBadLinks: expired, unknown, other tenants' and reused links all
// read as not found or conflict, and change nothing.
func TestOptInBadLinks(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newOptInFixture(t, st)
		ctx := t.Context()
		_, err := f.eng.SendOptInForms(ctx, f.tech, []string{f.contact.ID}, core.OptInByEmail)
		require.NoError(t, err)
		f.deliver(t)
		slug, token := optInLink(t, f.mail)

		other := newFixture(t, st)
		for name, tc := range map[string][2]string{
			"wrong tenant":  {other.tenant.Slug, token},
			"unknown slug":  {"nobody", token},
			"unknown token": {slug, "A" + token[1:]},
			"empty token":   {slug, ""},
			"long token":    {slug, token + token + token + token},
		} {
			_, err := f.eng.OptInView(ctx, tc[0], tc[1])
			assert.Equal(t, core.KindNotFound, core.ErrorKind(err), name)
			_, err = f.eng.AnswerOptIn(ctx, tc[0], tc[1], core.OptInAnswer{Consent: true})
			assert.Equal(t, core.KindNotFound, core.ErrorKind(err), name)
		}
		f.clk.Add(core.OptInTTL)
		_, err = f.eng.OptInView(ctx, slug, token)
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "expired")
		_, err = f.eng.AnswerOptIn(ctx, slug, token, core.OptInAnswer{Consent: true})
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "expired")
		states, err := f.eng.OptInStates(ctx, f.tenant.ID, []core.Contact{f.contact})
		require.NoError(t, err)
		assert.False(t, states[f.contact.ID].OptedIn)
		assert.NotContains(t, actions(f.auditOf(t)), core.AuditOptInConsented)
	})
}

// TestOptInCorrection: a corrected number needs the tenant's setting and
// a country code; it replaces the mobile on record with the end user as
// its provenance and goes to the PSA through the outbox.
func TestOptInCorrection(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newOptInFixture(t, st)
		ctx := t.Context()
		_, err := f.eng.SendOptInForms(ctx, f.tech, []string{f.psa.ID}, core.OptInByEmail)
		require.NoError(t, err)
		f.deliver(t)
		slug, token := optInLink(t, f.mail)

		_, err = f.eng.AnswerOptIn(ctx, slug, token, core.OptInAnswer{Consent: true, Phone: "+44 7700 900123"})
		assert.Equal(t, core.KindForbidden, core.ErrorKind(err), "corrections are off by default")
		require.NoError(t, f.eng.PutOptInSettings(ctx, f.tenant.ID, f.admin.ID, true))
		page, err := f.eng.OptInView(ctx, slug, token)
		require.NoError(t, err)
		assert.True(t, page.AllowCorrection)
		for _, bad := range []string{"07700 900123", "7700900123", "+44 12", "call me"} {
			_, err = f.eng.AnswerOptIn(ctx, slug, token, core.OptInAnswer{Consent: true, Phone: bad})
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err), bad)
		}
		page, err = f.eng.AnswerOptIn(ctx, slug, token, core.OptInAnswer{Consent: true, Phone: "+44 7700 900123"})
		require.NoError(t, err)
		assert.Equal(t, core.MaskDestination(core.DestPhone, "+447700900123"), page.MaskedPhone)

		c, err := f.eng.Contact(ctx, f.tenant.ID, f.psa.ID)
		require.NoError(t, err)
		mobile, ok := c.OptInPhone()
		require.True(t, ok)
		assert.Equal(t, "+447700900123", mobile.Value)
		assert.Equal(t, f.psa.Destinations[0].ID, mobile.ID, "the mobile on record is replaced, not added to")
		assert.Equal(t, "enduser:optin", mobile.Source)
		states, err := f.eng.OptInStates(ctx, f.tenant.ID, []core.Contact{c})
		require.NoError(t, err)
		assert.True(t, states[c.ID].OptedIn, "the consent is for the corrected number")
		assert.Contains(t, actions(f.auditOf(t)), core.AuditOptInPhoneCorrected)

		f.deliver(t)
		w := f.writes.last(t)
		assert.Equal(t, core.OutboxContactPhone, w.Kind)
		assert.Equal(t, "2001", w.To)
		assert.Equal(t, "+447700900123", w.Phone)
		assert.Equal(t, "+1 (555) 010-0177", w.OldPhone, "the number as the PSA wrote it")
	})
}

// TestOptInSends: an opted-out number is never sent a form by SMS (one
// contact: the opt-out error; several: skipped), SMS forms carry the
// carrier wording, and a contact gets at most three forms a day.
func TestOptInSends(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newOptInFixture(t, st)
		ctx := t.Context()
		res, err := f.eng.SendOptInForms(ctx, f.tech, []string{f.contact.ID}, core.OptInBySMS)
		require.NoError(t, err)
		require.Equal(t, 1, res.Sent)
		f.deliver(t)
		sms := f.sms.last(t)
		assert.Equal(t, "+15550100142", sms.To)
		assert.Contains(t, sms.Text, "Acme IT")
		assert.Contains(t, sms.Text, "Reply STOP to opt out")
		optInLink(t, f.sms)

		_, err = f.eng.ReceiveSMS(ctx, f.tenant.ID, core.InboundSMS{MessageSID: sid(9200), From: "+15550100142", To: "+15550109999", Body: "stop"})
		require.NoError(t, err)
		f.sms.reset()
		_, err = f.eng.SendOptInForms(ctx, f.tech, []string{f.contact.ID}, core.OptInBySMS)
		require.ErrorIs(t, err, core.ErrSMSOptedOut)
		res, err = f.eng.SendOptInForms(ctx, f.tech, []string{f.contact.ID, f.psa.ID}, core.OptInBySMS)
		require.NoError(t, err)
		assert.Equal(t, 1, res.Sent)
		require.Len(t, res.Skipped, 1)
		assert.Equal(t, f.contact.ID, res.Skipped[0].ContactID)
		assert.Contains(t, res.Skipped[0].Reason, "opted out")
		f.deliver(t)
		for _, m := range f.sms.msgs {
			assert.NotEqual(t, "+15550100142", m.To, "no SMS to an opted-out number, ever")
		}
		// A STOP that arrives after a form was queued, before it is sent:
		// the outbox checks again and sends nothing.
		f.sms.reset()
		_, err = f.eng.SendOptInForms(ctx, f.tech, []string{f.psa.ID}, core.OptInBySMS)
		require.NoError(t, err)
		_, err = f.eng.ReceiveSMS(ctx, f.tenant.ID, core.InboundSMS{MessageSID: sid(9201), From: "+15550100177", To: "+15550109999", Body: "STOP"})
		require.NoError(t, err)
		f.deliver(t)
		assert.Empty(t, f.sms.msgs, "no SMS to a number that opted out while its form waited")

		// E-mail still works for the opted-out contact.
		_, err = f.eng.SendOptInForms(ctx, f.tech, []string{f.contact.ID}, core.OptInByEmail)
		require.NoError(t, err)
		_, err = f.eng.SendOptInForms(ctx, f.tech, []string{f.contact.ID}, core.OptInByEmail)
		require.NoError(t, err)
		_, err = f.eng.SendOptInForms(ctx, f.tech, []string{f.contact.ID}, core.OptInByEmail)
		assert.Equal(t, core.KindRateLimited, core.ErrorKind(err), "three forms a day")

		// Bad input.
		_, err = f.eng.SendOptInForms(ctx, f.tech, nil, core.OptInByEmail)
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		_, err = f.eng.SendOptInForms(ctx, f.tech, []string{f.psa.ID}, "voice")
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		other := newFixture(t, st)
		_, err = f.eng.SendOptInForms(ctx, other.tech, []string{f.psa.ID}, core.OptInByEmail)
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "another tenant's contact")
		assert.False(t, slices.Contains(actions(other.auditOf(t)), core.AuditOptInSent))
	})
}
