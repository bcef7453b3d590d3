package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

const trayUserSID = "S-1-5-21-1004336348-1177238915-682003330-1104"

// trayFixture is the engine fixture with an activated device of the
// client whose logged-on user is bound to the contact, and a PSA
// integration for ticket notes.
type trayFixture struct {
	*fixture
	dev  core.Device
	note string
}

func newTrayFixture(t *testing.T, st *store.Store) *trayFixture {
	t.Helper()
	ctx := t.Context()
	f := &trayFixture{fixture: newFixture(t, st)}
	key, err := f.eng.ActivationKey(ctx, f.tenant.ID, "test", f.client.ID)
	require.NoError(t, err)
	f.dev, _, err = f.eng.Activate(ctx, key, core.DeviceReport{Name: "CONTOSO-PC1", OS: "Windows 11 Pro",
		Users: []core.DeviceUser{{SID: trayUserSID, Account: `CONTOSO\sam`, LoggedOn: true},
			{SID: "S-1-5-21-1-2-3-1105", Account: `CONTOSO\alex`, LoggedOn: true}}})
	require.NoError(t, err)
	_, err = f.eng.AssignUser(ctx, f.tenant.ID, "test", f.dev.ID, trayUserSID, f.contact.ID)
	require.NoError(t, err)
	in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
	require.NoError(t, err)
	f.note = in.ID
	return f
}

func (f *trayFixture) check(t *testing.T, techID string, a core.TechCheckAnswer) (core.TechCheckResult, error) {
	t.Helper()
	return f.eng.CheckTechnician(t.Context(), f.dev, core.TechCheck{SID: trayUserSID, TechnicianID: techID, Answer: a})
}

func (f *trayFixture) audited(t *testing.T, action string) []core.AuditEvent {
	t.Helper()
	evs, err := f.eng.AuditEvents(t.Context(), f.tenant.ID, core.AuditQuery{Action: action})
	require.NoError(t, err)
	return evs
}

// TestTechCheckFromTray: the user answers for a technician "Who's calling
// me?" listed. "confirm" is audited and noted on the technician's ticket;
// "not_the_person" is audited as techverify.not_the_person, reaches only
// the on-call users of the groups that want not_me, and is noted on the
// ticket. A technician not working with the user, unknown, or another
// tenant's, an unbound or unseen user, and a fourth answer in an hour are
// refused and audited, and alert no one.
func TestTechCheckFromTray(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		ctx := t.Context()
		onCallFixture(t, f.fixture, core.NotifyNotMe) // 04:00 in New York: the night user is on call
		f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.IntegrationID = f.note })
		f.deliver(t)
		f.sms.reset()
		f.notes.reset()

		listed, err := f.eng.CallingTechnicians(ctx, f.dev, trayUserSID)
		require.NoError(t, err)
		require.Len(t, listed, 1)
		require.Equal(t, f.tech.ID, listed[0].ID)

		// Bad input is refused before anything is read.
		for name, c := range map[string]core.TechCheck{
			"bad sid":      {SID: "not-a-sid", TechnicianID: f.tech.ID, Answer: core.TechCheckConfirm},
			"bad answer":   {SID: trayUserSID, TechnicianID: f.tech.ID, Answer: "maybe"},
			"no tech":      {SID: trayUserSID, Answer: core.TechCheckConfirm},
			"long tech id": {SID: trayUserSID, TechnicianID: string(make([]byte, 65)), Answer: core.TechCheckConfirm},
		} {
			_, err := f.eng.CheckTechnician(ctx, f.dev, c)
			assert.Equal(t, core.KindInvalid, kindOf(err), name)
		}

		// Confirm: audited, noted on the ticket, no alert.
		res, err := f.check(t, f.tech.ID, core.TechCheckConfirm)
		require.NoError(t, err)
		assert.Equal(t, "jane", res.Technician.Name)
		assert.Equal(t, "4821", res.TicketRef)
		assert.Zero(t, res.Alerted)
		f.deliver(t)
		note := f.notes.last(t)
		assert.Equal(t, "4821", note.To)
		assert.Contains(t, note.Text, "jane IS the technician working with them")
		assert.Contains(t, note.Text, "CONTOSO-PC1")
		assert.Empty(t, f.sms.recipients(), "a confirmation alerts no one")
		confirmed := f.audited(t, core.AuditTechCheckConfirmed)
		require.Len(t, confirmed, 1)
		assert.Equal(t, trayUserSID, confirmed[0].Subject)
		assert.Equal(t, f.tech.ID, confirmed[0].Detail["technician"])

		// Not the person: audited, the on-call user told by SMS and voice,
		// the ticket noted.
		res, err = f.check(t, f.tech.ID, core.TechCheckNotThePerson)
		require.NoError(t, err)
		assert.Equal(t, 2, res.Alerted)
		f.deliver(t)
		assert.Equal(t, []string{"+15550100302"}, f.sms.recipients(), "only the night user, on call now")
		assert.Equal(t, []string{"+15550100303"}, f.call.recipients())
		assert.Empty(t, f.mail.recipients(), "the day user is off call")
		assert.Contains(t, f.sms.last(t).Text, "is NOT the person on the phone")
		assert.Contains(t, f.notes.last(t).Text, "jane is NOT the person on the phone with them")
		denied := f.audited(t, core.AuditTechCheckNotThePerson)
		require.Len(t, denied, 1)
		assert.Equal(t, "4821", denied[0].Detail["ticket"])
		assert.Len(t, f.audited(t, core.AuditNotifySent), 1)

		// A technician not working with the user now (joe), one unknown, one
		// of another tenant: the same not-found answer, audited, and it
		// counts towards the limit.
		other := newFixture(t, st)
		notes := len(f.notes.recipients())
		_, err = f.check(t, f.other.ID, core.TechCheckNotThePerson)
		assert.Equal(t, core.KindNotFound, kindOf(err))
		refused := f.audited(t, core.AuditTechCheckRefused)
		require.Len(t, refused, 1)
		assert.Equal(t, "technician not working with the user", refused[0].Detail["reason"])

		// That was the third answer this hour: the next is refused with a
		// wait, whatever it names, and audited.
		_, err = f.check(t, f.tech.ID, core.TechCheckConfirm)
		assert.Equal(t, core.KindRateLimited, kindOf(err))
		wait, ok := core.RetryAfter(err)
		require.True(t, ok)
		assert.Equal(t, time.Hour, wait, "the clock stood still: the oldest answer leaves the hour in an hour")
		_, err = f.check(t, other.tech.ID, core.TechCheckNotThePerson)
		assert.Equal(t, core.KindRateLimited, kindOf(err))
		assert.Len(t, f.audited(t, core.AuditTechCheckRateLimited), 2)
		f.deliver(t)
		assert.Len(t, f.sms.recipients(), 1, "no alert from a refused answer")
		assert.Len(t, f.notes.recipients(), notes, "no note from a refused answer")

		// An hour later the user may answer again; the technician's
		// verification is now too old for them to be "working with" the
		// user, and another tenant's technician or an unknown one is not
		// found either.
		f.clk.Add(time.Hour + time.Second)
		for _, id := range []string{other.tech.ID, "tec_nosuchtechnician", f.tech.ID} {
			_, err = f.check(t, id, core.TechCheckNotThePerson)
			assert.Equal(t, core.KindNotFound, kindOf(err), id)
		}
		f.clk.Add(time.Hour + time.Second)
		f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.IntegrationID = f.note })

		// Another user of the device, not bound; a user this device never
		// reported; a device of another client or tenant cannot answer
		// for this user.
		_, err = f.eng.CheckTechnician(ctx, f.dev, core.TechCheck{SID: "S-1-5-21-1-2-3-1105", TechnicianID: f.tech.ID, Answer: core.TechCheckConfirm})
		assert.Equal(t, core.KindNotFound, kindOf(err))
		_, err = f.eng.CheckTechnician(ctx, f.dev, core.TechCheck{SID: "S-1-5-21-9-9-9-1001", TechnicianID: f.tech.ID, Answer: core.TechCheckConfirm})
		assert.Equal(t, core.KindNotFound, kindOf(err))
		key, err := other.eng.ActivationKey(ctx, other.tenant.ID, "test", other.client.ID)
		require.NoError(t, err)
		stranger, _, err := other.eng.Activate(ctx, key, core.DeviceReport{Name: "EVIL-PC",
			Users: []core.DeviceUser{{SID: trayUserSID, Account: `EVIL\sam`, LoggedOn: true}}})
		require.NoError(t, err)
		_, err = f.eng.CheckTechnician(ctx, stranger, core.TechCheck{SID: trayUserSID, TechnicianID: f.tech.ID, Answer: core.TechCheckNotThePerson})
		assert.Equal(t, core.KindNotFound, kindOf(err), "another tenant's device reads as not bound")
		assert.Len(t, f.audited(t, core.AuditTechCheckNotThePerson), 1, "nothing more was taken")

		_, err = f.check(t, f.tech.ID, core.TechCheckConfirm)
		require.NoError(t, err, "the user is in budget again")
	})
}
