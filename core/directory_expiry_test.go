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
