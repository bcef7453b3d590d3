package core

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// agentHub wakes the long-polls of devices when a task is queued for them
// on this node. Its zero value is ready to use.
//
// A task queued on another node reaches a device waiting here at its next
// poll (at most one long-poll period later): the task itself is durable in
// the store, only the wake-up is per node.
type agentHub struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// subscribe returns a channel that is closed at the next wake of deviceID,
// and a function that unsubscribes it.
func (h *agentHub) subscribe(deviceID string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	h.mu.Lock()
	if h.waiters == nil {
		h.waiters = map[string]map[chan struct{}]struct{}{}
	}
	set := h.waiters[deviceID]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		h.waiters[deviceID] = set
	}
	set[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if set, ok := h.waiters[deviceID]; ok {
			if _, ok := set[ch]; ok {
				delete(set, ch)
				if len(set) == 0 {
					delete(h.waiters, deviceID)
				}
			}
		}
	}
}

// wake releases every waiter of deviceID.
func (h *agentHub) wake(deviceID string) {
	h.mu.Lock()
	set := h.waiters[deviceID]
	delete(h.waiters, deviceID)
	h.mu.Unlock()
	for ch := range set {
		close(ch)
	}
}

// Waiting returns how many long-polls this node holds, for metrics and the
// load test.
func (e *Engine) Waiting() int {
	e.agents.mu.Lock()
	defer e.agents.mu.Unlock()
	n := 0
	for _, set := range e.agents.waiters {
		n += len(set)
	}
	return n
}

// touchEvery is how stale a device's LastSeenAt may get before a poll
// rewrites it; polls in between only read, so thousands of idle agents do
// not queue on the single SQLite writer.
const touchEvery = 30 * time.Second

// MaxTaskWait caps how long one long-poll waits; proxies commonly cut idle
// requests at 60 seconds.
const MaxTaskWait = 50 * time.Second

// WaitTasks is a device's long-poll: it returns the device's pending tasks
// (marking them delivered), waiting up to wait for one to arrive. An empty
// result means the wait ran out; the agent polls again. A device revoked
// meanwhile gets ErrUnauthorized.
func (e *Engine) WaitTasks(ctx context.Context, d Device, wait time.Duration) ([]AgentTask, error) {
	wait = min(max(wait, 0), MaxTaskWait)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	touched := false
	for {
		// Subscribe before looking, so a task queued in between still wakes us.
		woken, unsubscribe := e.agents.subscribe(d.ID)
		tasks, err := e.takeTasks(ctx, d, !touched)
		touched = true
		if err != nil || len(tasks) > 0 {
			unsubscribe()
			return tasks, err
		}
		select {
		case <-woken:
		case <-deadline.C:
			unsubscribe()
			return nil, nil
		case <-ctx.Done():
			unsubscribe()
			return nil, ctx.Err()
		}
	}
}

// takeTasks reads d's pending tasks and, if there are any, marks them
// delivered in one transaction; touch also renews d's LastSeenAt when stale.
func (e *Engine) takeTasks(ctx context.Context, d Device, touch bool) ([]AgentTask, error) {
	now := e.Now()
	var (
		pending []AgentTask
		cur     Device
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if cur, err = tx.Device(ctx, d.TenantID, d.ID); err != nil {
			return err
		}
		if cur.Revoked() {
			return errDeviceAuth
		}
		pending, err = tx.PendingAgentTasks(ctx, d.TenantID, d.ID, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	stale := touch && now.Sub(cur.LastSeenAt) >= touchEvery
	if len(pending) == 0 && !stale {
		return nil, nil
	}
	var taken []AgentTask
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		taken = taken[:0]
		if stale {
			if err := tx.TouchDevice(ctx, d.TenantID, d.ID, now); err != nil {
				return err
			}
		}
		if len(pending) == 0 {
			return nil
		}
		// Re-read inside the write transaction: another poll of the same
		// device may have taken them meanwhile.
		ts, err := tx.PendingAgentTasks(ctx, d.TenantID, d.ID, now)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if err := tx.MarkAgentTaskDelivered(ctx, d.TenantID, t.ID, now); err != nil {
				if isNotFound(err) {
					continue // another poll took it, or the sweep dropped it (directory_expiry.go)
				}
				return err
			}
			if sealedTask(t.Kind) {
				// A directory task carries a new password: sealed at
				// rest, handed out once, then wiped.
				plain, err := e.cfg.Sealer.Open(t.Payload, taskAAD(t.TenantID, t.ID))
				if err != nil {
					return fmt.Errorf("core: open task %s: %w", t.ID, err)
				}
				if err := tx.ClearAgentTaskPayload(ctx, d.TenantID, t.ID); err != nil {
					return err
				}
				t.Payload = plain
			}
			t.DeliveredAt = now
			taken = append(taken, t)
		}
		return nil
	})
	return taken, err
}

// queueTask writes a task for a device in tx; call wakeAfterCommit with the
// device id once tx has committed.
func (e *Engine) queueTask(ctx context.Context, tx Tx, t *AgentTask) error {
	return tx.CreateAgentTask(ctx, t)
}
