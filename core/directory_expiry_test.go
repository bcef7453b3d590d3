package core_test

import (
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

// TestDirectoryRequestsExpireUnfetched: a technician's reset and an end
// user's unlock whose tasks the harvester never fetched fail once their
// tasks expire — the reset with a note on the ticket it came from, each
// with its audit event — and the tasks (the reset's sealed password with
// them) are dropped. Two nodes sweeping at once, and a restarted one
// after, settle each once. A task the harvester did fetch is left to its
// report.
func TestDirectoryRequestsExpireUnfetched(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		var cfg core.Config
		f := newDirFixture(t, st, func(c *core.Config) { cfg = *c })
		ctx := t.Context()
		v := f.verify(t, f.tech, f.contact.ID)

		// The unlock is fetched (and not yet reported); the reset is not.
		un, err := f.ask(t, v)
		require.NoError(t, err)
		fetched, err := f.eng.WaitTasks(ctx, f.device, 0)
		require.NoError(t, err)
		require.Len(t, fetched, 1)
		rs, err := f.ask(t, v, func(r *core.TechDirectoryRequest) { r.Action, r.Generate = core.SelfServeReset, true })
		require.NoError(t, err)
		// An end user's unlock from the self-serve page, never fetched.
		now := f.clk.Now()
		task := core.AgentTask{ID: core.NewID("tsk"), TenantID: f.tenant.ID, DeviceID: f.device.ID, Kind: core.TaskDirectoryUnlock,
			Payload: []byte("sealed"), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		self := core.SelfServeRequest{TenantID: f.tenant.ID, ID: core.NewID("req"), ClientID: f.client.ID, GUID: f.user.GUID,
			Action: core.SelfServeUnlock, DeviceID: f.device.ID, TaskID: task.ID, Status: core.SelfServeQueued,
			CreatedAt: now, ExpiresAt: task.ExpiresAt}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			if err := tx.CreateAgentTask(ctx, &task); err != nil {
				return err
			}
			return tx.CreateSelfServeRequest(ctx, &self)
		}))

		n, err := f.eng.ExpireDirectoryRequests(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "nothing has expired yet")

		f.clk.Add(10 * time.Minute)
		second, err := core.NewEngine(cfg)
		require.NoError(t, err)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
		)
		for _, e := range []*core.Engine{f.eng, second, f.eng, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := e.ExpireDirectoryRequests(ctx)
				assert.NoError(t, err)
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		assert.Equal(t, 2, total, "the reset and the end user's unlock, once each")
		restarted, err := core.NewEngine(cfg)
		require.NoError(t, err)
		n, err = restarted.ExpireDirectoryRequests(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "a restart finds nothing left to do")

		var reqs []core.SelfServeRequest
		var gotSelf core.SelfServeRequest
		require.NoError(t, st.View(ctx, func(tx core.Tx) (err error) {
			if reqs, err = tx.SelfServeRequestsOfVerification(ctx, f.tenant.ID, v.ID); err != nil {
				return err
			}
			gotSelf, err = tx.SelfServeRequest(ctx, f.tenant.ID, self.ID)
			return err
		}))
		byID := map[string]core.SelfServeRequest{}
		for _, r := range reqs {
			byID[r.ID] = r
		}
		assert.Equal(t, core.SelfServeFailed, byID[rs.Request.ID].Status)
		assert.Equal(t, "the harvester did not pick up the request in time", byID[rs.Request.ID].Reason)
		assert.Equal(t, f.clk.Now(), byID[rs.Request.ID].FinishedAt.UTC())
		assert.Equal(t, core.SelfServeQueued, byID[un.Request.ID].Status, "a fetched task waits for the harvester's report")
		assert.Equal(t, core.SelfServeFailed, gotSelf.Status)
		assert.Contains(t, gotSelf.Reason, "did not pick up the request in time")
		tasks, _ := f.written(t, v.ID)
		assert.Zero(t, tasks, "the dead tasks are dropped")

		// The note on the ticket, once, without the password.
		f.deliver(t)
		var notes []string
		for _, m := range f.notes.all() {
			if strings.Contains(m.Text, "scaller") {
				assert.Equal(t, "4821", m.To)
				notes = append(notes, m.Text)
			}
		}
		require.Len(t, notes, 1, "only the technician's request has a ticket")
		assert.Contains(t, notes[0], "Password reset of account scaller for Sam Caller by jane FAILED: the harvester did not pick up the request in time")
		assert.NotContains(t, notes[0], rs.Password)

		expired := map[string][]core.AuditEvent{}
		for _, ev := range f.auditOf(t) {
			if ev.Action == core.AuditDirectoryRequestExpired || ev.Action == core.AuditSelfServeRequestExpired {
				expired[ev.Action] = append(expired[ev.Action], ev)
			}
		}
		require.Len(t, expired[core.AuditDirectoryRequestExpired], 1)
		require.Len(t, expired[core.AuditSelfServeRequestExpired], 1)
		ev := expired[core.AuditDirectoryRequestExpired][0]
		assert.Equal(t, "system", ev.Actor)
		assert.Equal(t, f.user.GUID, ev.Subject)
		assert.Equal(t, string(core.SelfServeReset), ev.Detail["action"])
		assert.Equal(t, v.ID, ev.Detail["verification"])
		assert.Equal(t, rs.Request.TaskID, ev.Detail["task"])
		assert.Equal(t, self.TaskID, expired[core.AuditSelfServeRequestExpired][0].Detail["task"])

		// The harvester, back: nothing more to fetch; its report of the
		// fetched unlock still counts; the dropped reset has its result.
		late, err := f.eng.WaitTasks(ctx, f.device, 0)
		require.NoError(t, err)
		assert.Empty(t, late)
		require.NoError(t, f.eng.ReportTaskResult(ctx, f.device, un.Request.TaskID, true, ""))
		err = f.eng.ReportTaskResult(ctx, f.device, rs.Request.TaskID, true, "")
		assert.Equal(t, core.KindConflict, kindOf(err))
	})
}

// TestDropUndeliveredAgentTask: a task is either delivered or dropped,
// never both: the drop and the delivery are each conditional on the task
// being undelivered.
func TestDropUndeliveredAgentTask(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newDirFixture(t, st)
		ctx := t.Context()
		now := f.clk.Now()
		mk := func() core.AgentTask {
			tk := core.AgentTask{ID: core.NewID("tsk"), TenantID: f.tenant.ID, DeviceID: f.device.ID, Kind: core.TaskDirectoryUnlock,
				Payload: []byte("x"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateAgentTask(ctx, &tk) }))
			return tk
		}
		dropped, delivered := mk(), mk()
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			if err := tx.DropUndeliveredAgentTask(ctx, f.tenant.ID, dropped.ID); err != nil {
				return err
			}
			assert.Equal(t, core.KindNotFound, kindOf(tx.MarkAgentTaskDelivered(ctx, f.tenant.ID, dropped.ID, now)), "a dropped task is not delivered")
			assert.NoError(t, tx.DropUndeliveredAgentTask(ctx, f.tenant.ID, dropped.ID), "gone is dropped")
			require.NoError(t, tx.MarkAgentTaskDelivered(ctx, f.tenant.ID, delivered.ID, now))
			assert.Equal(t, core.KindConflict, kindOf(tx.DropUndeliveredAgentTask(ctx, f.tenant.ID, delivered.ID)), "a delivered task stays")
			assert.Equal(t, core.KindNotFound, kindOf(tx.MarkAgentTaskDelivered(ctx, f.tenant.ID, delivered.ID, now)), "delivered once")
			return nil
		}))
	})
}

// TestDirectoryRequestsLapseUnreported: tasks the harvester fetched and
// never reported fail once DirectoryReportLease has passed since the
// fetch — a technician's unlock with an "outcome unknown" note on its
// ticket, an end user's unlock with the end user's words, each audited —
// and are never offered again (a reset must not run twice). One reported
// within the lease is left as reported. Two nodes sweeping at once, and a
// restarted one after, settle each once. The harvester's report that
// comes after the lapse is taken once as the late truth: the request gets
// the outcome, audited and noted on the ticket as late.
func TestDirectoryRequestsLapseUnreported(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		var cfg core.Config
		f := newDirFixture(t, st, func(c *core.Config) { cfg = *c })
		ctx := t.Context()
		v := f.verify(t, f.tech, f.contact.ID)

		un, err := f.ask(t, v)
		require.NoError(t, err)
		rs, err := f.ask(t, v, func(r *core.TechDirectoryRequest) { r.Action, r.Generate = core.SelfServeReset, true })
		require.NoError(t, err)
		// An end user's unlock from the self-serve page, sealed as the
		// engine seals directory tasks (taskAAD: tenant and task).
		now := f.clk.Now()
		task := core.AgentTask{ID: core.NewID("tsk"), TenantID: f.tenant.ID, DeviceID: f.device.ID, Kind: core.TaskDirectoryUnlock,
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		task.Payload, err = cfg.Sealer.Seal([]byte(`{"guid":"`+f.user.GUID+`"}`), []byte("agent_task\x00"+f.tenant.ID+"\x00"+task.ID))
		require.NoError(t, err)
		self := core.SelfServeRequest{TenantID: f.tenant.ID, ID: core.NewID("req"), ClientID: f.client.ID, GUID: f.user.GUID,
			Action: core.SelfServeUnlock, DeviceID: f.device.ID, TaskID: task.ID, Status: core.SelfServeQueued,
			CreatedAt: now, ExpiresAt: task.ExpiresAt}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			if err := tx.CreateAgentTask(ctx, &task); err != nil {
				return err
			}
			return tx.CreateSelfServeRequest(ctx, &self)
		}))
		fetched, err := f.eng.WaitTasks(ctx, f.device, 0)
		require.NoError(t, err)
		require.Len(t, fetched, 3, "all three fetched at once")

		// The lease runs to the second: at its end nothing lapses, and
		// the reset is reported in time.
		f.clk.Add(core.DirectoryReportLease)
		n, err := f.eng.ExpireDirectoryRequests(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "the lease has not passed yet (and a fetched task does not expire unfetched)")
		require.NoError(t, f.eng.ReportTaskResult(ctx, f.device, rs.Request.TaskID, true, ""))

		f.clk.Add(time.Second)
		second, err := core.NewEngine(cfg)
		require.NoError(t, err)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
		)
		for _, e := range []*core.Engine{f.eng, second, f.eng, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := e.ExpireDirectoryRequests(ctx)
				assert.NoError(t, err)
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		assert.Equal(t, 2, total, "the two unreported unlocks, once each")
		restarted, err := core.NewEngine(cfg)
		require.NoError(t, err)
		n, err = restarted.ExpireDirectoryRequests(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "a restart finds nothing left to do")

		request := func(id string) core.SelfServeRequest {
			var r core.SelfServeRequest
			require.NoError(t, st.View(ctx, func(tx core.Tx) (err error) {
				r, err = tx.SelfServeRequest(ctx, f.tenant.ID, id)
				return err
			}))
			return r
		}
		assert.Equal(t, core.SelfServeDone, request(rs.Request.ID).Status, "reported within the lease")
		gotUn := request(un.Request.ID)
		assert.Equal(t, core.SelfServeFailed, gotUn.Status)
		assert.Contains(t, gotUn.Reason, "did not report a result in time: the account may or may not have been changed")
		assert.Equal(t, f.clk.Now(), gotUn.FinishedAt.UTC())
		gotSelf := request(self.ID)
		assert.Equal(t, core.SelfServeFailed, gotSelf.Status)
		assert.Contains(t, gotSelf.Reason, "did not say whether it worked")

		// Never offered again.
		again, err := f.eng.WaitTasks(ctx, f.device, 0)
		require.NoError(t, err)
		assert.Empty(t, again, "a fetched task is not handed out twice")

		lapsed := map[string][]core.AuditEvent{}
		for _, ev := range f.auditOf(t) {
			lapsed[ev.Action] = append(lapsed[ev.Action], ev)
		}
		require.Len(t, lapsed[core.AuditDirectoryRequestUnreported], 1)
		require.Len(t, lapsed[core.AuditSelfServeRequestUnreported], 1)
		assert.Empty(t, lapsed[core.AuditDirectoryRequestExpired], "fetched tasks do not expire unfetched")
		assert.Empty(t, lapsed[core.AuditSelfServeRequestExpired])
		ev := lapsed[core.AuditDirectoryRequestUnreported][0]
		assert.Equal(t, "system", ev.Actor)
		assert.Equal(t, f.user.GUID, ev.Subject)
		assert.Equal(t, un.Request.TaskID, ev.Detail["task"])
		assert.Equal(t, v.ID, ev.Detail["verification"])
		assert.Equal(t, self.TaskID, lapsed[core.AuditSelfServeRequestUnreported][0].Detail["task"])

		notes := func() []string {
			f.deliver(t)
			var out []string
			for _, m := range f.notes.all() {
				if strings.Contains(m.Text, "scaller") {
					assert.Equal(t, "4821", m.To)
					assert.NotContains(t, m.Text, rs.Password)
					out = append(out, m.Text)
				}
			}
			return out
		}
		got := notes()
		require.Len(t, got, 2, "the reset's result and the unlock's lapse; the end user's request has no ticket")
		assert.Contains(t, got, "Countersign: Password of account scaller RESET for Sam Caller by jane after verifying the caller (2026-11-02 09:10 UTC).")
		assert.Contains(t, got, "Countersign: Unlock of account scaller for Sam Caller by jane OUTCOME UNKNOWN: "+gotUn.Reason+" (2026-11-02 09:10 UTC).")

		// The harvester's reports, late: taken once each.
		f.clk.Add(time.Minute)
		require.NoError(t, f.eng.ReportTaskResult(ctx, f.device, un.Request.TaskID, true, ""))
		assert.Equal(t, core.KindConflict, kindOf(f.eng.ReportTaskResult(ctx, f.device, un.Request.TaskID, false, "again")))
		require.NoError(t, f.eng.ReportTaskResult(ctx, f.device, self.TaskID, false, "Your account was not found."))
		assert.Equal(t, core.KindConflict, kindOf(f.eng.ReportTaskResult(ctx, f.device, rs.Request.TaskID, true, "")), "reported in time: once")
		gotUn, gotSelf = request(un.Request.ID), request(self.ID)
		assert.Equal(t, core.SelfServeDone, gotUn.Status)
		assert.Empty(t, gotUn.Reason)
		assert.Equal(t, core.SelfServeFailed, gotSelf.Status)
		assert.Equal(t, "Your account was not found.", gotSelf.Reason)
		lateEv, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: core.AuditDirectoryLateResult})
		require.NoError(t, err)
		require.Len(t, lateEv, 1)
		assert.Equal(t, "device:"+f.device.ID, lateEv[0].Actor)
		assert.Equal(t, "done", lateEv[0].Detail["outcome"])
		lateEv, err = f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: core.AuditSelfServeLateResult})
		require.NoError(t, err)
		require.Len(t, lateEv, 1)
		assert.Equal(t, "failed", lateEv[0].Detail["outcome"])
		got = notes()
		require.Len(t, got, 3)
		assert.Contains(t, got[2], "Countersign (late result from the harvester, after the earlier note said it was unknown): Account scaller UNLOCKED for Sam Caller by jane")
	})
}
