package core_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// dirFixture is the fixture with a harvester for the client, Sam's
// directory account bound to Sam (an accepted match), the domain's policy
// on record, and a PSA integration for tickets.
type dirFixture struct {
	*fixture
	device      core.Device
	user        core.DirectoryUser
	integration string
}

func newDirFixture(t *testing.T, st *store.Store, mods ...func(*core.Config)) *dirFixture {
	t.Helper()
	ctx := t.Context()
	f := &dirFixture{fixture: newFixture(t, st, mods...)}
	in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
	require.NoError(t, err)
	f.integration = in.ID
	now := f.clk.Now()
	f.device = core.Device{ID: core.NewID("dev"), TenantID: f.tenant.ID, ClientID: f.client.ID, Name: "DC1", OS: "windows",
		CredentialHash: make([]byte, 32), CreatedAt: now, LastSeenAt: now}
	f.user = core.DirectoryUser{TenantID: f.tenant.ID, ClientID: f.client.ID, GUID: "00000000-0000-4000-8000-0000000000a1",
		SID: "S-1-5-21-1-2-3-1105", DeviceID: f.device.ID, SAMAccountName: "scaller", GivenName: "Sam", Surname: "Caller",
		DisplayName: "Sam Caller", Mail: "sam@contoso.example", Enabled: true, Locked: true, SyncedAt: now}
	require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateDevice(ctx, &f.device); err != nil {
			return err
		}
		if err := tx.PutDirectoryUser(ctx, &f.user); err != nil {
			return err
		}
		return tx.PutPasswordPolicy(ctx, &core.PasswordPolicy{TenantID: f.tenant.ID, ClientID: f.client.ID,
			MinLength: 12, Complexity: true, History: 24, UpdatedAt: now})
	}))
	require.NoError(t, f.eng.DecideMatches(ctx, f.tenant.ID, "tech:"+f.admin.ID, f.client.ID,
		[]core.MatchChoice{{GUID: f.user.GUID, ContactID: f.contact.ID, Accept: true}}))
	return f
}

// verify verifies contactID by SMS code for tech, from ticket 4821.
func (f *dirFixture) verify(t *testing.T, tech core.Technician, contactID string) core.Verification {
	t.Helper()
	st := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) {
		r.TechnicianID, r.ContactID, r.TicketRef, r.IntegrationID = tech.ID, contactID, "4821", f.integration
	})
	f.deliver(t)
	v, err := f.eng.CheckCode(t.Context(), f.tenant.ID, tech.ID, st.Verification.ID, codeIn(t, f.sms.last(t)))
	require.NoError(t, err)
	require.Equal(t, core.StatusVerified, v.Status)
	return v
}

func (f *dirFixture) ask(t *testing.T, v core.Verification, mod ...func(*core.TechDirectoryRequest)) (core.TechDirectoryResult, error) {
	r := core.TechDirectoryRequest{TenantID: f.tenant.ID, TechnicianID: v.TechnicianID, VerificationID: v.ID,
		ContactID: v.ContactID, Action: core.SelfServeUnlock}
	for _, m := range mod {
		m(&r)
	}
	return f.eng.TechDirectoryAction(t.Context(), r)
}

// written counts what a request could have left behind: tasks queued for
// the harvester and directory requests of the verification.
func (f *dirFixture) written(t *testing.T, verificationID string) (tasks, requests int) {
	t.Helper()
	require.NoError(t, f.st.View(t.Context(), func(tx core.Tx) error {
		ts, err := tx.PendingAgentTasks(t.Context(), f.tenant.ID, f.device.ID, f.clk.Now().Add(-time.Hour))
		if err != nil {
			return err
		}
		rs, err := tx.SelfServeRequestsOfVerification(t.Context(), f.tenant.ID, verificationID)
		tasks, requests = len(ts), len(rs)
		return err
	}))
	return tasks, requests
}

// TestTechDirectoryUnlockAndReset: a technician verifies Sam by SMS code,
// unlocks Sam's account, and resets the password with a generated one
// (must change at next logon); the harvester's long-poll gets each as the
// sealed directory task, reports the results, and each result is audited
// and written to the ticket the verification came from. Each action goes
// once per verification.
func TestTechDirectoryUnlockAndReset(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newDirFixture(t, st)
		ctx := t.Context()
		v := f.verify(t, f.tech, f.contact.ID)

		state, err := f.eng.TechDirectory(ctx, f.tenant.ID, f.tech.ID, v.ID)
		require.NoError(t, err)
		assert.Empty(t, state.Reason)
		assert.Equal(t, "scaller", state.User.SAMAccountName)
		assert.Equal(t, v.CompletedAt.Add(core.TechDirectoryGrantTTL), state.Until)

		un, err := f.ask(t, v)
		require.NoError(t, err)
		assert.Empty(t, un.Password)
		assert.Equal(t, core.SelfServeQueued, un.Request.Status)
		assert.Equal(t, v.ID, un.Request.VerificationID)
		assert.Equal(t, f.tech.ID, un.Request.TechnicianID)

		_, err = f.ask(t, v)
		assert.Equal(t, core.KindConflict, kindOf(err), "an unlock per verification")

		rs, err := f.ask(t, v, func(r *core.TechDirectoryRequest) {
			r.Action, r.Generate, r.MustChange = core.SelfServeReset, true, true
		})
		require.NoError(t, err)
		require.NoError(t, core.CheckPassword(rs.Password, "scaller", "Sam Caller",
			core.PasswordPolicy{MinLength: 12, Complexity: true}), "the generated password meets the domain's policy")
		assert.GreaterOrEqual(t, len(rs.Password), 16)

		tasks, err := f.eng.WaitTasks(ctx, f.device, 0)
		require.NoError(t, err)
		require.Len(t, tasks, 2)
		byKind := map[core.AgentTaskKind]core.DirectoryTask{}
		ids := map[core.AgentTaskKind]string{}
		for _, tk := range tasks {
			var p core.DirectoryTask
			require.NoError(t, json.Unmarshal(tk.Payload, &p))
			byKind[tk.Kind], ids[tk.Kind] = p, tk.ID
		}
		assert.Equal(t, core.DirectoryTask{RequestID: un.Request.ID, GUID: f.user.GUID, Account: "scaller"}, byKind[core.TaskDirectoryUnlock])
		assert.Equal(t, core.DirectoryTask{RequestID: rs.Request.ID, GUID: f.user.GUID, Account: "scaller", Password: rs.Password, MustChange: true},
			byKind[core.TaskDirectoryReset])

		require.NoError(t, f.eng.ReportTaskResult(ctx, f.device, ids[core.TaskDirectoryUnlock], true, ""))
		require.NoError(t, f.eng.ReportTaskResult(ctx, f.device, ids[core.TaskDirectoryReset], false, "the domain refused the password: it was used before"))
		state, err = f.eng.TechDirectory(ctx, f.tenant.ID, f.tech.ID, v.ID)
		require.NoError(t, err)
		require.Len(t, state.Requests, 2)
		got := map[core.SelfServeAction]core.SelfServeRequest{}
		for _, r := range state.Requests {
			got[r.Action] = r
		}
		assert.Equal(t, core.SelfServeDone, got[core.SelfServeUnlock].Status)
		assert.Equal(t, core.SelfServeFailed, got[core.SelfServeReset].Status)
		assert.Contains(t, got[core.SelfServeReset].Reason, "used before")
		assert.ElementsMatch(t, []core.SelfServeAction{core.SelfServeReset, core.SelfServeUnlock}, state.Used)

		f.deliver(t)
		var notes []string
		for _, m := range f.notes.all() {
			if strings.Contains(m.Text, "scaller") {
				assert.Equal(t, "4821", m.To)
				notes = append(notes, m.Text)
			}
		}
		require.Len(t, notes, 2, "both results go to the ticket")
		assert.Contains(t, strings.Join(notes, "\n"), "Account scaller UNLOCKED for Sam Caller by jane")
		assert.Contains(t, strings.Join(notes, "\n"), "Password reset of account scaller for Sam Caller by jane FAILED: the domain refused the password")
		assert.NotContains(t, strings.Join(notes, "\n"), rs.Password)

		var actions []string
		for _, ev := range f.auditOf(t) {
			actions = append(actions, ev.Action)
			for _, val := range ev.Detail {
				assert.NotContains(t, val, rs.Password, "the password is never audited")
			}
		}
		for _, a := range []string{core.AuditDirectoryUnlockRequested, core.AuditDirectoryResetRequested,
			core.AuditDirectoryRequestDone, core.AuditDirectoryRequestFailed} {
			assert.Contains(t, actions, a)
		}
	})
}

// refusals returns the AuditDirectoryRequestRefused events of a tenant,
// oldest first.
func (f *dirFixture) refusals(t *testing.T, tenantID string) []core.AuditEvent {
	t.Helper()
	evs, err := f.eng.AuditEvents(t.Context(), tenantID, core.AuditQuery{})
	require.NoError(t, err)
	var out []core.AuditEvent
	for _, ev := range evs {
		if ev.Action == core.AuditDirectoryRequestRefused {
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// assertRefusalAudited checks that the newest refusal of tenantID's log is
// n-th one, for reason, by tech, with the technician's words.
func (f *dirFixture) assertRefusalAudited(t *testing.T, tenantID string, n int, reason, techID string, err error) core.AuditEvent {
	t.Helper()
	evs := f.refusals(t, tenantID)
	require.Len(t, evs, n, "one refusal audited per refused request")
	ev := evs[n-1]
	assert.Equal(t, reason, ev.Detail["reason"])
	assert.Equal(t, "tech:"+techID, ev.Actor)
	assert.Equal(t, core.ErrorMessage(err), ev.Detail["message"])
	assert.NotEmpty(t, ev.Detail["message"])
	return ev
}

// TestTechDirectoryRefusals: every request the gate refuses says why and
// leaves nothing written — no task, no request, the grant unused (a good
// request with the same verification still goes through afterwards) —
// but its own audit event, with the reason: a technician probing with
// verifications that do not allow it leaves a trace.
func TestTechDirectoryRefusals(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newDirFixture(t, st)
		ctx := t.Context()
		unbound, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{
			ClientID: f.client.ID, FirstName: "Una", LastName: "Bound",
			Phones: []core.NewDestination{{Value: "(555) 010-0177", Label: "Mobile", Default: true}},
		})
		require.NoError(t, err)
		podOnly := core.Technician{ID: core.NewID("tec"), TenantID: f.tenant.ID, Email: "pod@acme.example", Name: "pod", Role: core.RolePodOnly, CreatedAt: f.clk.Now()}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateTechnician(ctx, &podOnly) }))

		v := f.verify(t, f.tech, f.contact.ID)
		vUnbound := f.verify(t, f.other, unbound.ID)
		vPod := f.verify(t, podOnly, f.contact.ID)
		open := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TechnicianID = f.admin.ID }).Verification

		// Another tenant's technician, with a verification of their own.
		g := newDirFixture(t, st)
		vOther := g.verify(t, g.tech, g.contact.ID)

		reset := func(pw string) func(*core.TechDirectoryRequest) {
			return func(r *core.TechDirectoryRequest) { r.Action, r.Password = core.SelfServeReset, pw }
		}
		cases := []struct {
			name string
			v    core.Verification
			mod  func(*core.TechDirectoryRequest)
			kind core.Kind
			says string
			// reason is the refusal's audited reason; a malformed
			// request, refused before any check, is audited too.
			reason string
		}{
			{"no binding", vUnbound, nil, core.KindInvalid, "no directory account bound", core.RefusedNotBound},
			{"not verified", open, nil, core.KindForbidden, "not verified", core.RefusedNotVerified},
			{"another contact", v, func(r *core.TechDirectoryRequest) { r.ContactID = unbound.ID }, core.KindForbidden, "another contact", core.RefusedOtherContact},
			{"another technician", v, func(r *core.TechDirectoryRequest) { r.TechnicianID = f.other.ID }, core.KindForbidden, "another technician", core.RefusedOtherTechnician},
			{"pod-only role", vPod, nil, core.KindForbidden, "may not reset", core.RefusedRole},
			{"another tenant's verification", v, func(r *core.TechDirectoryRequest) { r.TenantID, r.TechnicianID = g.tenant.ID, g.tech.ID }, core.KindNotFound, "no such verification", core.RefusedNoVerification},
			{"another tenant's technician", vOther, func(r *core.TechDirectoryRequest) { r.TechnicianID = f.tech.ID }, core.KindNotFound, "", core.RefusedNoVerification},
			{"too short for the policy", v, reset("Short-1a"), core.KindInvalid, "at least 12 characters", core.RefusedPasswordPolicy},
			{"not complex", v, reset("alllowercaseletters"), core.KindInvalid, "three of", core.RefusedPasswordPolicy},
			{"contains the account", v, reset("Xx-scaller-2026"), core.KindInvalid, "user name", core.RefusedPasswordPolicy},
			{"typed and generated", v, func(r *core.TechDirectoryRequest) {
				r.Action, r.Password, r.Generate = core.SelfServeReset, "Spring-Tulip-42", true
			}, core.KindInvalid, "or have one generated", core.RefusedMalformed},
			{"no password", v, reset(""), core.KindInvalid, "or have one generated", core.RefusedMalformed},
			{"unlock with a password", v, func(r *core.TechDirectoryRequest) { r.Password = "Spring-Tulip-42" }, core.KindInvalid, "takes no password", core.RefusedMalformed},
			{"unknown action", v, func(r *core.TechDirectoryRequest) { r.Action = "delete" }, core.KindInvalid, "reset or unlock", core.RefusedMalformed},
		}
		audited := map[string]int{} // tenant → refusals audited so far
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := core.TechDirectoryRequest{TenantID: f.tenant.ID, TechnicianID: tc.v.TechnicianID}
				if tc.mod != nil {
					tc.mod(&r)
				}
				mods := []func(*core.TechDirectoryRequest){}
				if tc.mod != nil {
					mods = append(mods, tc.mod)
				}
				_, err := f.ask(t, tc.v, mods...)
				require.Error(t, err)
				assert.Equal(t, tc.kind, kindOf(err), err.Error())
				assert.Contains(t, err.Error(), tc.says)
				tasks, reqs := f.written(t, tc.v.ID)
				assert.Zero(t, tasks, "no task")
				assert.Zero(t, reqs, "no request")
				audited[r.TenantID]++
				ev := f.assertRefusalAudited(t, r.TenantID, audited[r.TenantID], tc.reason, r.TechnicianID, err)
				assert.Equal(t, tc.v.ID, ev.Detail["verification"])
			})
		}
		// The refusals of the other tenant's technician went to that
		// tenant's log, not to the log of the tenant the verification is of.
		assert.Equal(t, 1, audited[g.tenant.ID])
		ev := f.refusals(t, f.tenant.ID)
		for _, e := range ev {
			assert.NotEqual(t, "tech:"+g.tech.ID, e.Actor)
		}
		// A refusal that reached the account names it.
		for _, e := range ev {
			if e.Detail["reason"] == core.RefusedPasswordPolicy {
				assert.Equal(t, "scaller", e.Detail["account"])
				assert.Equal(t, f.user.SID, e.Subject)
				for _, val := range e.Detail {
					assert.NotContains(t, val, "Short-1a", "the typed password is never audited")
				}
			}
			if e.Detail["reason"] == core.RefusedOtherContact {
				assert.Equal(t, f.contact.ID, e.Detail["contact"])
				assert.Equal(t, unbound.ID, e.Detail["card_contact"])
			}
		}
		n := audited[f.tenant.ID]

		// The harvester offline, then revoked: refused, nothing written.
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			d := f.device
			d.LastSeenAt = f.clk.Now().Add(-5 * time.Minute)
			return tx.UpdateDevice(ctx, &d)
		}))
		_, err = f.ask(t, v)
		assert.Equal(t, core.KindUnavailable, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "offline")
		n++
		f.assertRefusalAudited(t, f.tenant.ID, n, core.RefusedHarvesterOffline, f.tech.ID, err)
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			d := f.device
			d.LastSeenAt, d.RevokedAt = f.clk.Now(), f.clk.Now()
			return tx.UpdateDevice(ctx, &d)
		}))
		_, err = f.ask(t, v)
		assert.Equal(t, core.KindUnavailable, kindOf(err))
		n++
		f.assertRefusalAudited(t, f.tenant.ID, n, core.RefusedNoHarvester, f.tech.ID, err)
		tasks, reqs := f.written(t, v.ID)
		assert.Zero(t, tasks+reqs)
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			d := f.device
			d.LastSeenAt = f.clk.Now()
			return tx.UpdateDevice(ctx, &d)
		}))

		// None of it used the grant: a good request goes through, and is
		// no refusal. A second reset with the grant is one.
		_, err = f.ask(t, v, reset("Spring-Tulip-42x"))
		require.NoError(t, err)
		assert.Len(t, f.refusals(t, f.tenant.ID), n)
		_, err = f.ask(t, v, reset("Spring-Tulip-43x"))
		assert.Equal(t, core.KindConflict, kindOf(err))
		n++
		f.assertRefusalAudited(t, f.tenant.ID, n, core.RefusedGrantUsed, f.tech.ID, err)

		// Past the grant's ten minutes, the verification is no good.
		f.clk.Add(core.TechDirectoryGrantTTL)
		_, err = f.ask(t, v)
		assert.Equal(t, core.KindForbidden, kindOf(err))
		assert.Contains(t, err.Error(), "more than 10 minutes ago")
		n++
		f.assertRefusalAudited(t, f.tenant.ID, n, core.RefusedGrantExpired, f.tech.ID, err)
		tasks, reqs = f.written(t, v.ID)
		assert.Equal(t, 1, tasks)
		assert.Equal(t, 1, reqs, "only the good one")
	})
}

// TestTechDirectoryGrantSingleUse: eight unlocks at once with one
// verification, on two engines (two nodes) over one store: exactly one is
// queued as a task, the others are refused as used.
func TestTechDirectoryGrantSingleUse(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		var cfg core.Config
		f := newDirFixture(t, st, func(c *core.Config) { cfg = *c })
		v := f.verify(t, f.tech, f.contact.ID)
		second, err := core.NewEngine(cfg)
		require.NoError(t, err)
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			ok, taken int
			others    []error
		)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := f.eng
				if i%2 == 1 {
					e = second
				}
				_, err := e.TechDirectoryAction(context.Background(), core.TechDirectoryRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
					VerificationID: v.ID, ContactID: f.contact.ID, Action: core.SelfServeUnlock})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case kindOf(err) == core.KindConflict:
					taken++
				default:
					others = append(others, err)
				}
			}()
		}
		wg.Wait()
		assert.Empty(t, others)
		assert.Equal(t, 1, ok, "one use")
		assert.Equal(t, 7, taken, "the others are told it was used")
		tasks, reqs := f.written(t, v.ID)
		assert.Equal(t, 1, tasks, "exactly one task")
		assert.Equal(t, 1, reqs)
	})
}

// all returns every message c was given.
func (c *capture) all() []core.Outbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]core.Outbound(nil), c.msgs...)
}
