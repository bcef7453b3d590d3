package core_test

import (
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recipients returns the addresses c was given messages for, in order.
func (c *capture) recipients() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var to []string
	for _, m := range c.msgs {
		to = append(to, m.To)
	}
	return to
}

func (c *capture) reset() { c.mu.Lock(); c.msgs = nil; c.mu.Unlock() }

// onCallFixture adds a "Desk" group in New York time with a day user
// (working days 9:00–24:00, e-mail and SMS), a night user (every day
// 00:00–09:00, SMS and voice) and a weekend user (e-mail).
func onCallFixture(t *testing.T, f *fixture, events ...core.NotifyEvent) (day, night, weekend core.NotifyUser) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, f.eng.SetNotifyTimeZone(ctx, f.admin, "America/New_York"))
	g, err := f.eng.CreateNotifyGroup(ctx, f.admin, core.NotifyGroup{Name: "Desk", Events: events})
	require.NoError(t, err)
	rule := func(days core.Weekdays, start, end string) core.Schedule {
		return core.Schedule{{From: "2026-10-01", Until: "2027-09-30", Start: start, End: end, Days: days, EveryDays: 1, OnDays: 1}}
	}
	day, err = f.eng.AddNotifyUser(ctx, f.admin, core.NotifyUser{GroupID: g.ID, Name: "Dana Day", Email: "dana@acme.example",
		SMS: "+15550100301", ByEmail: true, BySMS: true, Schedule: rule(core.WorkingDays, "09:00", "24:00")})
	require.NoError(t, err)
	night, err = f.eng.AddNotifyUser(ctx, f.admin, core.NotifyUser{GroupID: g.ID, Name: "Nick Night", SMS: "(555) 010-0302",
		Voice: "+15550100303", BySMS: true, ByVoice: true, Schedule: rule(core.AllDays, "00:00", "09:00")})
	require.NoError(t, err)
	weekend, err = f.eng.AddNotifyUser(ctx, f.admin, core.NotifyUser{GroupID: g.ID, Name: "Wes Weekend", Email: "wes@acme.example",
		ByEmail: true, Schedule: rule(1<<time.Saturday|1<<time.Sunday, "00:00", "24:00")})
	require.NoError(t, err)
	assert.Equal(t, "+15550100302", night.SMS, "numbers are normalised to E.164")
	return day, night, weekend
}

// failByWrongCodes starts an SMS code and burns every attempt.
func failByWrongCodes(t *testing.T, f *fixture) core.Verification {
	t.Helper()
	st := f.start(t, core.MethodSMSCode)
	f.deliver(t)
	code := codeIn(t, f.sms.last(t))
	var (
		v   core.Verification
		err error
	)
	for range 5 {
		v, err = f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, st.Verification.ID, wrongFor(code))
	}
	require.Error(t, err)
	v = f.verification(t, st.Verification.ID)
	require.Equal(t, core.StatusFailed, v.Status)
	return v
}

// TestOnCallFailureNotifiesOnlyActiveUsers: a failed verification, under a
// policy that asks for it, reaches only the users on call at that moment
// in the tenant's time zone, each by their own ways, through the outbox.
func TestOnCallFailureNotifiesOnlyActiveUsers(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		onCallFixture(t, f, core.NotifyVerificationFailed)
		p := core.DefaultPolicy()
		p.FailureCap = core.MaxFailureCap // three failed verifications in a row here
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", "", p))

		// Without the policy's consent nothing is sent.
		failByWrongCodes(t, f)
		f.deliver(t)
		f.sms.reset()
		assert.Empty(t, f.mail.recipients())
		assert.Empty(t, f.call.recipients())

		p.NotifyOnFailure = true
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", "", p))

		// Monday 2 November 2026 09:00 UTC is 04:00 EST: the night shift.
		f.clk.Add(time.Hour)
		v := failByWrongCodes(t, f)
		f.deliver(t)
		sms := f.sms.recipients()
		assert.Contains(t, sms, "+15550100302", "the night user by SMS")
		assert.NotContains(t, sms, "+15550100301", "the day user is off at 05:00 EST")
		assert.Equal(t, []string{"+15550100303"}, f.call.recipients(), "the night user by voice")
		assert.Empty(t, f.mail.recipients(), "neither the day nor the weekend user")
		for _, m := range f.sms.msgs {
			if m.To == "+15550100302" {
				assert.Contains(t, m.Text, "Sam Caller (Contoso)")
				assert.Contains(t, m.Text, "too many wrong codes")
			}
		}
		evs, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{})
		require.NoError(t, err)
		i := slices.IndexFunc(evs, func(e core.AuditEvent) bool { return e.Action == core.AuditNotifySent && e.Subject == v.ID })
		require.GreaterOrEqual(t, i, 0, "the notification is audited")
		assert.Equal(t, "2", evs[i].Detail["messages"])
		assert.Contains(t, evs[i].Detail["to"], "Nick Night")

		// At 09:30 EST (14:30 UTC) the day user has taken over.
		f.sms.reset()
		f.call.reset()
		f.clk.Add(4*time.Hour + 30*time.Minute)
		failByWrongCodes(t, f)
		f.deliver(t)
		assert.Contains(t, f.sms.recipients(), "+15550100301")
		assert.NotContains(t, f.sms.recipients(), "+15550100302")
		assert.Equal(t, []string{"dana@acme.example"}, f.mail.recipients())
		assert.Empty(t, f.call.recipients())
	})
}

// TestOnCallNobodyAndUnsubscribed: a group that does not want the event is
// not told; when nobody is on call that is audited; a group's events and a
// user's ways are checked when saved.
func TestOnCallNobodyAndUnsubscribed(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		p := core.DefaultPolicy()
		p.NotifyOnFailure, p.FailureCap = true, core.MaxFailureCap
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", "", p))
		_, _, weekend := onCallFixture(t, f, core.NotifyNotMe) // not verification_failed
		failByWrongCodes(t, f)
		f.deliver(t)
		assert.Empty(t, f.mail.recipients())
		assert.Empty(t, f.call.recipients())

		groups, _, err := f.eng.NotifyGroups(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, groups, 1)
		g := groups[0].NotifyGroup
		g.Events = []core.NotifyEvent{core.NotifyVerificationFailed}
		_, err = f.eng.UpdateNotifyGroup(ctx, f.admin, g)
		require.NoError(t, err)
		// Remove everyone but the weekend user: on a Monday nobody is on call.
		for _, u := range groups[0].Users {
			if u.ID != weekend.ID {
				require.NoError(t, f.eng.RemoveNotifyUser(ctx, f.admin, u.ID))
			}
		}
		f.clk.Add(time.Hour)
		v := failByWrongCodes(t, f)
		f.deliver(t)
		assert.Empty(t, f.mail.recipients())
		evs, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{})
		require.NoError(t, err)
		assert.True(t, slices.ContainsFunc(evs, func(e core.AuditEvent) bool {
			return e.Action == core.AuditNotifyNobody && e.Subject == v.ID
		}), "nobody on call is audited")

		_, err = f.eng.CreateNotifyGroup(ctx, f.admin, core.NotifyGroup{Name: "Desk"})
		assert.Equal(t, core.KindConflict, kindOf(err))
		_, err = f.eng.CreateNotifyGroup(ctx, f.admin, core.NotifyGroup{Name: "X", Events: []core.NotifyEvent{"everything"}})
		assert.Equal(t, core.KindInvalid, kindOf(err))
		_, err = f.eng.AddNotifyUser(ctx, f.admin, core.NotifyUser{GroupID: g.ID, Name: "No Phone", BySMS: true})
		assert.Equal(t, core.KindInvalid, kindOf(err))
		_, err = f.eng.AddNotifyUser(ctx, f.admin, core.NotifyUser{GroupID: "ngr_nope", Name: "Lost", Email: "l@acme.example", ByEmail: true})
		assert.Equal(t, core.KindNotFound, kindOf(err))
		_, err = f.eng.AddNotifyUser(ctx, f.admin, core.NotifyUser{GroupID: g.ID, Name: "Long", Email: "l@acme.example", ByEmail: true,
			Schedule: core.Schedule{{From: "2026-01-01", Until: "2027-06-01", Start: "09:00", End: "17:00", Days: core.AllDays, EveryDays: 1, OnDays: 1}}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "at most a year")
		require.NoError(t, f.eng.SetNotifyTimeZone(ctx, f.admin, "Europe/London"))
		assert.Equal(t, core.KindInvalid, kindOf(f.eng.SetNotifyTimeZone(ctx, f.admin, "Nowhere/Special")))
	})
}

// TestCloneTechnicianIsACopy: a user cloned from a technician keeps the
// name and e-mail they had, whatever happens to the technician later.
func TestCloneTechnicianIsACopy(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		g, err := f.eng.CreateNotifyGroup(ctx, f.admin, core.NotifyGroup{Name: "Escalation", Events: core.NotifyEvents})
		require.NoError(t, err)
		u, err := f.eng.CloneTechnician(ctx, f.admin, g.ID, f.tech.ID)
		require.NoError(t, err)
		assert.Equal(t, "jane", u.Name)
		assert.Equal(t, "jane@acme.example", u.Email)
		assert.True(t, u.ByEmail)
		assert.Equal(t, "technician:"+f.tech.ID, u.Source)

		name := "Jane Renamed"
		_, err = f.eng.UpdateTechnician(ctx, f.admin, f.tech.ID, core.TechnicianChange{Name: &name})
		require.NoError(t, err)
		groups, _, err := f.eng.NotifyGroups(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, groups[0].Users, 1)
		assert.Equal(t, "jane", groups[0].Users[0].Name, "the copy does not follow the technician")

		u.Name, u.SMS, u.BySMS = "Jane (on call)", "+15550100400", true
		_, err = f.eng.UpdateNotifyUser(ctx, f.admin, u)
		require.NoError(t, err)
		tech, err := f.eng.Technician(ctx, f.tenant.ID, f.tech.ID)
		require.NoError(t, err)
		assert.Equal(t, "Jane Renamed", tech.Name, "nor the technician the copy")

		_, err = f.eng.CloneTechnician(ctx, f.admin, g.ID, "tec_other_tenant")
		assert.Equal(t, core.KindNotFound, kindOf(err))
	})
}
