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
//
// A task the harvester fetched has a deadline too: its report is due
// within DirectoryReportLease of the fetch. Past it, the sweep settles the
// request as failed with an outcome nobody knows — it is never offered
// again. Doing it again is not safe for a password reset: the harvester
// may have reset the password and lost only the report, and a second run
// would set the technician's password again over the one the user chose
// at the forced change since (or, with the domain's password history,
// fail and say so about a reset that worked); the payload is wiped at the
// fetch, so the password would have to stay at rest for the retry. An
// unlock run late could unlock an account locked again since, by someone
// guessing its password. So the request fails, the technician (ticket
// note) and the end user (status page) are told that the account may or
// may not have changed, and the failure is audited. Should the harvester's
// report still come, it is taken as the late truth: the request gets the
// outcome (AmendSelfServeRequest, conditional on the lapse, so once), and
// is audited and written to the ticket as a late result.

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

// DirectoryReportLease is how long after fetching a directory task the
// harvester has to report its result. It does a task in seconds; its LDAP
// timeouts (30 s for the connection and each step, a few steps) put the
// slowest honest run at a few minutes.
const DirectoryReportLease = 10 * time.Minute

// Reasons of a request whose task was fetched and never reported within
// DirectoryReportLease: nobody knows whether it was done.
const (
	reasonTechUnreported    = "the harvester took the request but did not report a result in time: the account may or may not have been changed; check it in the directory before trying again"
	reasonEndUserUnreported = "your organisation's directory server took the request but did not say whether it worked; try signing in, and if that fails call your IT help desk"
)

// unreportedReason is the reason a request whose report lapsed fails
// with, in its reader's words.
func unreportedReason(r SelfServeRequest) string {
	if r.VerificationID != "" {
		return reasonTechUnreported
	}
	return reasonEndUserUnreported
}

// errFetchedMeanwhile rolls back the settling of a request whose task the
// harvester fetched after the sweep listed it.
var errFetchedMeanwhile = errors.New("core: task fetched meanwhile")

// ExpireDirectoryRequests settles every request whose task expired before
// the harvester fetched it, and every one whose task the harvester fetched
// and did not report within DirectoryReportLease, and returns how many it
// settled.
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
		var unreported []SelfServeRequest
		if err := e.cfg.Store.View(ctx, func(tx Tx) (err error) {
			unreported, err = tx.UnreportedSelfServeRequests(ctx, t.ID, now.Add(-DirectoryReportLease), expirySweepBatch)
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
		for _, r := range unreported {
			done, err := e.lapseRequest(ctx, r)
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
		if err := e.queueDirectoryNote(ctx, tx, r, now, false); err != nil {
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

// lapseRequest settles one request whose task was fetched and never
// reported in time; false when the harvester's report (or another sweep)
// settled it first. The task stays: the harvester has it, and its late
// report finds the request by it.
func (e *Engine) lapseRequest(ctx context.Context, r SelfServeRequest) (bool, error) {
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		reason, action := unreportedReason(r), AuditSelfServeRequestUnreported
		if r.VerificationID != "" {
			action = AuditDirectoryRequestUnreported
		}
		if err := tx.FinishSelfServeRequest(ctx, r.TenantID, r.ID, SelfServeFailed, reason, now); err != nil {
			if isNotFound(err) {
				return errFetchedMeanwhile // reported meanwhile, or another sweep
			}
			return err
		}
		r.Status, r.Reason, r.FinishedAt = SelfServeFailed, reason, now
		if err := e.queueDirectoryNote(ctx, tx, r, now, false); err != nil {
			return err
		}
		return e.audit(ctx, tx, r.TenantID, "system", action, r.GUID, map[string]string{
			"guid": r.GUID, "client": r.ClientID, "action": string(r.Action), "task": r.TaskID, "device": r.DeviceID,
			"verification": r.VerificationID, "technician": r.TechnicianID,
			"lease": DirectoryReportLease.String(), "reason": reason,
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
