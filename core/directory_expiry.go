package core

import (
	"context"
	"errors"
	"time"
)

// Directory requests the harvester never fetched (issue 17.3, 17.4). A
// reset or unlock is queued as a task good for selfServeTaskTTL; when the
// harvester is offline or stuck past that, the task is dead: the harvester
// will never be handed it. The sweep here settles such a request: it
// fails with a reason, the task is dropped (a reset's sealed password with
// it), the failure is audited and, for a technician's request from a PSA
// ticket, written to the ticket as the harvester's result would have been.
//
// Every node may run it (RunDirectoryExpiry): each request is settled in
// one transaction whose first write is conditional (FinishSelfServeRequest
// on a queued request), so a request is settled once whatever runs at the
// same time — another node's sweep, or the harvester's own report — and a
// restart only finds the ones still to do. The task is dropped only while
// undelivered (DropUndeliveredAgentTask, conditional like the delivery),
// so a task fetched at the last moment is left to the harvester's report.

// expirySweepBatch bounds the requests one sweep settles per tenant; the
// rest wait for the next round.
const expirySweepBatch = 200

// Reasons of a request whose task expired unfetched, in the words each
// reader sees: the technician on the card and the ticket, the end user on
// the status page.
const (
	reasonTechNotFetched    = "the harvester did not pick up the request in time"
	reasonEndUserNotFetched = "your organisation's directory server did not pick up the request in time; try again later or call your IT help desk"
)

// errFetchedMeanwhile rolls back the settling of a request whose task the
// harvester fetched after the sweep listed it.
var errFetchedMeanwhile = errors.New("core: task fetched meanwhile")

// ExpireDirectoryRequests settles every request whose task expired before
// the harvester fetched it and returns how many it settled.
func (e *Engine) ExpireDirectoryRequests(ctx context.Context) (int, error) {
	var tenants []Tenant
	if err := e.cfg.Store.View(ctx, func(tx Tx) (err error) {
		tenants, err = tx.ListTenants(ctx)
		return err
	}); err != nil {
		return 0, err
	}
	settled := 0
	for _, t := range tenants {
		now := e.Now()
		var expired []SelfServeRequest
		if err := e.cfg.Store.View(ctx, func(tx Tx) (err error) {
			expired, err = tx.ExpiredSelfServeRequests(ctx, t.ID, now, expirySweepBatch)
			return err
		}); err != nil {
			return settled, err
		}
		for _, r := range expired {
			done, err := e.expireRequest(ctx, r)
			if err != nil {
				return settled, err
			}
			if done {
				settled++
			}
		}
	}
	if settled > 0 {
		e.Wake() // the ticket notes
	}
	return settled, nil
}

// expireRequest settles one expired request; false when something else
// settled it first or the harvester fetched its task meanwhile.
func (e *Engine) expireRequest(ctx context.Context, r SelfServeRequest) (bool, error) {
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		reason, action := reasonEndUserNotFetched, AuditSelfServeRequestExpired
		if r.VerificationID != "" {
			reason, action = reasonTechNotFetched, AuditDirectoryRequestExpired
		}
		if err := tx.FinishSelfServeRequest(ctx, r.TenantID, r.ID, SelfServeFailed, reason, now); err != nil {
			if isNotFound(err) {
				return errFetchedMeanwhile // settled already: reported, or another sweep
			}
			return err
		}
		if err := tx.DropUndeliveredAgentTask(ctx, r.TenantID, r.TaskID); err != nil {
			if ErrorKind(err) == KindConflict {
				return errFetchedMeanwhile
			}
			return err
		}
		r.Status, r.Reason, r.FinishedAt = SelfServeFailed, reason, now
		if err := e.queueDirectoryNote(ctx, tx, r, now); err != nil {
			return err
		}
		return e.audit(ctx, tx, r.TenantID, "system", action, r.GUID, map[string]string{
			"guid": r.GUID, "client": r.ClientID, "action": string(r.Action), "task": r.TaskID, "device": r.DeviceID,
			"verification": r.VerificationID, "technician": r.TechnicianID, "expired_at": r.ExpiresAt.UTC().Format(time.RFC3339),
			"reason": reason,
		})
	})
	if errors.Is(err, errFetchedMeanwhile) {
		return false, nil
	}
	return err == nil, err
}

// RunDirectoryExpiry runs ExpireDirectoryRequests now and then every
// interval until ctx ends; errors are logged and tried again at the next
// round.
func (e *Engine) RunDirectoryExpiry(ctx context.Context, every time.Duration) {
	for {
		if n, err := e.ExpireDirectoryRequests(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Error("expiring directory requests failed; trying again later", "err", err)
		} else if n > 0 {
			e.log.Info("directory requests expired unfetched", "requests", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
