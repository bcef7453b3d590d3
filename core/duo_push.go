package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Duo push timing: the push lives at most pushMaxLifetime (the technician is
// on the phone, waiting), Duo's calls before the push get duoCallTimeout,
// and a status long-poll that returns at once is not repeated sooner than
// duoPollFloor.
const (
	pushMaxLifetime = 2 * time.Minute
	duoCallTimeout  = 15 * time.Second
	duoPollFloor    = 250 * time.Millisecond
	pushShortWindow = 15 * time.Minute
	// duoPushType is what Duo Mobile shows as "<type> request".
	duoPushType = "Help desk verification"
)

// PushRequest asks for a push to a contact. TenantID and TechnicianID come
// from the authenticated technician; a push needs a ticket (security.md §4:
// only on an open verification tied to a ticket).
type PushRequest struct {
	TenantID      string
	TechnicianID  string
	ContactID     string
	TicketRef     string
	IntegrationID string
	Note          string
	// Purpose is why (PurposeReset before a password or MFA reset).
	Purpose Purpose
}

// StartDuoPush sends a Duo push to a contact and returns the verification,
// already sent (status sent, Duo's txid as ProviderRef) or, when Duo cannot
// push to this user, cancelled with the reason in Detail. Duo's answer is
// awaited in the background; its outcome arrives as an event.
//
// Limits (security.md §4), checked with the contact locked so that
// concurrent presses count exactly: one outstanding push per user, the
// policy's pushes per user in 15 minutes and 24 hours since the last
// success, per technician per hour, and none for the policy's block (24
// hours by default) after a Deny or a fraud report.
func (e *Engine) StartDuoPush(ctx context.Context, req PushRequest) (Verification, error) {
	if e.cfg.Duo == nil {
		return Verification{}, Errorf(KindUnavailable, "Duo is not available on this server")
	}
	if err := checkPushRequest(&req); err != nil {
		return Verification{}, err
	}
	o, err := e.openDuoPush(ctx, req)
	if err != nil {
		return Verification{}, err
	}
	e.announcePushStarted(ctx, o.v, o.replaced)
	return e.sendDuoPush(ctx, o)
}

// duoPushOpening is what openDuoPush found and wrote: the pending
// verification, the account and the usernames to try, in order.
type duoPushOpening struct {
	v          Verification
	acct       DuoAccount
	tenant     Tenant
	tech       Technician
	candidates []DuoUser
	replaced   []Verification
	required   Assurance // the policy's minimum for this push
}

// openDuoPush checks the policy and the push limits and records the
// pending verification, in one transaction with the contact locked so that
// concurrent presses count exactly.
func (e *Engine) openDuoPush(ctx context.Context, req PushRequest) (duoPushOpening, error) {
	var o duoPushOpening
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		o = duoPushOpening{}
		now := e.Now()
		var err error
		if o.tenant, err = tx.Tenant(ctx, req.TenantID); err != nil {
			return err
		}
		p, err := readPushParties(ctx, tx, req, MethodDuoPush)
		if err != nil {
			return err
		}
		o.tech = p.tech
		if o.acct, err = duoAccountFor(ctx, tx, req.TenantID, p.contact.ClientID); err != nil {
			if isNotFound(err) {
				// No account: below the minimum says more than "set up Duo".
				if err := p.policy.CheckAssurance(MethodDuoPush, req.Purpose); err != nil {
					return err
				}
			}
			return err
		}
		// Verified Duo Push, where the account asks for it, may meet a
		// minimum an approve-only push does not; whether Duo gives it to
		// this user is known after preauth (sendDuoPush).
		if err := p.policy.checkLevel(duoAssurance(o.acct), methodName(MethodDuoPush), req.Purpose); err != nil {
			return err
		}
		o.required = p.policy.RequiredAssurance(req.Purpose)
		if err := e.lockForPush(ctx, tx, req.TenantID, p, DestDuo, now); err != nil {
			return err
		}
		if o.candidates, err = duoPushCandidates(ctx, tx, req.TenantID, o.acct.ID, p.contact); err != nil {
			return err
		}
		o.v = newPush(req, p, MethodDuoPush, DestDuo, o.acct.ID, o.candidates[0].Username, "asking Duo", now)
		o.replaced, err = e.recordPushStarted(ctx, tx, &o.v,
			map[string]string{"method": string(o.v.Method), "contact": p.contact.ID, "account": o.acct.ID, "ticket": o.v.TicketRef}, now)
		return err
	})
	return o, err
}

// duoPushCandidates are the Duo usernames to try for contact c: the one
// mapped (by an admin or an earlier match), else those its e-mail
// addresses suggest.
func duoPushCandidates(ctx context.Context, tx Tx, tenantID, acctID string, c Contact) ([]DuoUser, error) {
	var candidates []DuoUser
	switch u, err := tx.DuoUser(ctx, tenantID, acctID, c.ID); {
	case err == nil:
		candidates = []DuoUser{u}
	case isNotFound(err):
		candidates = duoCandidates(c)
	default:
		return nil, err
	}
	if len(candidates) == 0 {
		return nil, Errorf(KindInvalid, "%s has no e-mail address to find their Duo user by; an admin can set the Duo username on the Duo page", c.Name())
	}
	return candidates, nil
}

// sendDuoPush asks Duo which candidate can take a push and to which
// device, sends it and awaits Duo's answer in the background. A push that
// cannot reach the user ends the verification as cancelled.
func (e *Engine) sendDuoPush(ctx context.Context, o duoPushOpening) (Verification, error) {
	v := o.v
	client, err := e.duoClient(o.acct)
	if err != nil {
		return e.pushUnavailable(ctx, v, "", "Duo configuration error: "+errorWords(err))
	}
	cctx, cancel := context.WithTimeout(ctx, duoCallTimeout)
	defer cancel()
	user, pre, err := e.duoPreauth(cctx, client, o.acct, o.candidates)
	if err != nil {
		return e.pushUnavailable(ctx, v, "", duoErrorWords(err))
	}
	if pre.Result != "auth" {
		return e.pushUnavailable(ctx, v, "preauth:"+pre.Result, duoPreauthWords(pre))
	}
	device := pushableDevice(pre.Devices)
	if device.ID == "" {
		return e.pushUnavailable(ctx, v, "preauth:auth", "the user's Duo devices cannot receive a push (no Duo Mobile); use another method")
	}
	level := AssurancePush
	if pre.Txid != "" {
		level = AssuranceStrong // Duo sends it as a Verified Duo Push
	}
	if !level.AtLeast(o.required) {
		return e.pushUnavailable(ctx, v, "preauth:auth", "Duo does not offer Verified Duo Push for this user, and an approve-only push is below this client's minimum; use another method")
	}
	if user.MatchedBy != "manual" {
		if err := e.rememberDuoUser(ctx, o.acct, user); err != nil {
			return Verification{}, err
		}
	}
	v.Destination = user.Username
	info := [][2]string{{"MSP", o.tenant.DisplayName()}, {"Technician", o.tech.Name}, {"Ticket", v.TicketRef}}
	txid, err := client.Push(cctx, DuoPush{Username: user.Username, Device: device.ID, Type: duoPushType, Info: info, Txid: pre.Txid})
	if err != nil {
		return e.pushUnavailable(ctx, v, "", duoErrorWords(err))
	}
	deviceName := device.Name
	if deviceName == "" {
		deviceName = device.Type
	}
	waiting := "Push sent to " + deviceName + ", waiting for the user"
	if level == AssuranceStrong {
		waiting = verifiedDuoPush + " sent to " + deviceName + ": read the caller the code Duo shows here when it appears; they type it into Duo Mobile"
	}
	sent, live, err := e.markPushSent(ctx, v, pushSend{destination: user.Username, ref: txid, level: level,
		detail:    waiting,
		audit:     map[string]string{"txid": txid, "username": user.Username, "device": deviceName},
		lateAudit: map[string]string{"txid": txid}})
	if err != nil {
		return Verification{}, err
	}
	if live {
		e.awaitPush(func() { e.pollDuo(client, sent) })
	}
	return sent, nil
}

// pushableDevice is the first of devices that can take a push; none
// leaves its ID empty.
func pushableDevice(devices []DuoDevice) DuoDevice {
	for _, d := range devices {
		if d.CanPush() {
			return d
		}
	}
	return DuoDevice{}
}

// checkPushLimits applies security.md §4 to pushes, Duo's and Microsoft's
// together: one outstanding per user, one count per window. open are the
// contact's open verifications, locked by the caller. techID "" leaves out
// the technician's own limit.
func (e *Engine) checkPushLimits(ctx context.Context, tx Tx, p Policy, open []Verification, tenantID, contactID, techID string, now time.Time) error {
	for _, v := range open {
		if isPush(v.Method) && v.EffectiveStatus(now).Open() {
			return Errorf(KindConflict, "a %s is already waiting for this user; wait for it to be answered or to expire", methodWords[v.Method])
		}
	}
	history, err := tx.ListVerifications(ctx, tenantID, contactID, 100)
	if err != nil {
		return err
	}
	var lastSuccess time.Time
	for _, v := range history {
		if v.Status == StatusVerified && v.CompletedAt.After(lastSuccess) {
			lastSuccess = v.CompletedAt
		}
	}
	stop, what, err := pushStop(ctx, tx, p, history, tenantID, contactID, now)
	if err != nil {
		return err
	}
	if what != "" {
		return Errorf(KindForbidden, "the user %s a push %s ago; pushes to them are stopped for %s: verify another way, or an admin can reset the lock on the contact's card",
			what, now.Sub(stop.CreatedAt).Round(time.Minute), durationWords(p.Push.DeniedBlock.D()))
	}
	short, day := 0, 0
	for _, v := range history {
		if !isPush(v.Method) || v.ProviderRef == "" || microsoftNotPushed(v) {
			continue // a push never sent is no push
		}
		age := now.Sub(v.CreatedAt)
		if !v.CreatedAt.After(lastSuccess) {
			continue
		}
		if age < pushShortWindow {
			short++
		}
		if age < 24*time.Hour {
			day++
		}
	}
	switch {
	case short >= p.Push.PerContact15m:
		return Errorf(KindRateLimited, "%d pushes to this user in the last 15 minutes (the limit); wait or use another method", short)
	case day >= p.Push.PerContactDay:
		return Errorf(KindRateLimited, "%d pushes to this user in the last 24 hours (the limit); use another method", day)
	}
	if techID == "" {
		return nil // listing routes: whoever presses is checked then
	}
	n := 0
	for _, m := range pushMethods {
		c, err := tx.CountSends(ctx, tenantID, SendFilter{TechnicianID: techID, Method: m, Since: now.Add(-time.Hour)})
		if err != nil {
			return err
		}
		n += c
	}
	if n >= p.Push.PerTechnicianHour {
		return Errorf(KindRateLimited, "you have sent %d pushes in the last hour (the limit); use another method", n)
	}
	return nil
}

// pushStop finds the refusal in history (the contact's latest
// verifications) that stops pushes to the contact at now (security.md §4):
// a push the user denied or reported as fraud less than the policy's
// DeniedBlock ago, answered after an admin last lifted the stop
// (ResetLock). what is pushRefusal's words, "" for none.
func pushStop(ctx context.Context, tx Tx, p Policy, history []Verification, tenantID, contactID string, now time.Time) (Verification, string, error) {
	var (
		lifted time.Time
		read   bool
	)
	for _, v := range history {
		if !isPush(v.Method) || v.ProviderRef == "" || microsoftNotPushed(v) {
			continue // a push never sent is no push
		}
		what := pushRefusal(v)
		if what == "" || now.Sub(v.CreatedAt) >= p.Push.DeniedBlock.D() {
			continue
		}
		if !read { // read only when a refusal would stop pushes
			var err error
			if lifted, err = tx.PushStopLifted(ctx, tenantID, contactID); err != nil {
				return Verification{}, "", err
			}
			read = true
		}
		if refusedAt(v).After(lifted) {
			return v, what, nil
		}
	}
	return Verification{}, "", nil
}

// pushStopped says checkPushLimits' err is pushStop's refusal (the only
// one of its kind), which an admin may lift.
func pushStopped(err error) bool { return ErrorKind(err) == KindForbidden }

// refusedAt is when the user answered v: its completion, else its start.
func refusedAt(v Verification) time.Time {
	if !v.CompletedAt.IsZero() {
		return v.CompletedAt
	}
	return v.CreatedAt
}

func (e *Engine) duoClient(a DuoAccount) (DuoClient, error) {
	cfg, err := e.openDuo(a)
	if err != nil {
		return nil, err
	}
	return e.cfg.Duo(cfg)
}

// duoPreauth asks Duo about each candidate username in turn and returns
// the first Duo can push to; when none can, the first one's answer.
func (e *Engine) duoPreauth(ctx context.Context, c DuoClient, a DuoAccount, candidates []DuoUser) (DuoUser, DuoPreauth, error) {
	var (
		firstUser DuoUser
		first     DuoPreauth
		firstErr  error
	)
	for i, u := range candidates {
		pre, err := c.Preauth(ctx, u.Username, a.VerifiedPush)
		if err == nil && pre.Result == "auth" {
			return u, pre, nil
		}
		if i == 0 {
			firstUser, first, firstErr = u, pre, err
		}
		if err != nil && !isDuoParamError(err) {
			break // Duo is down or refuses the keys: trying more names will not help
		}
	}
	return firstUser, first, firstErr
}

// rememberDuoUser stores the username the matcher found, for the mapping
// page and the next push; a manual mapping made meanwhile wins.
func (e *Engine) rememberDuoUser(ctx context.Context, a DuoAccount, u DuoUser) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		old, err := tx.DuoUser(ctx, a.TenantID, a.ID, u.ContactID)
		switch {
		case err == nil && (old.MatchedBy == "manual" || old.Username == u.Username):
			return nil
		case err != nil && !isNotFound(err):
			return err
		}
		u.TenantID, u.AccountID, u.UpdatedBy, u.UpdatedAt = a.TenantID, a.ID, "system", e.Now()
		if err := tx.PutDuoUser(ctx, &u); err != nil {
			return err
		}
		return e.audit(ctx, tx, a.TenantID, "system", AuditDuoUserMapped, u.ContactID,
			map[string]string{"account": a.ID, "username": u.Username, "matched_by": u.MatchedBy})
	})
}

// pollDuo waits for Duo's answer to v's push, until v expires, and records
// it. It runs in the background: the request that sent the push is done.
func (e *Engine) pollDuo(c DuoClient, v Verification) {
	// A timeout, not a deadline: the engine's clock need not be the wall's.
	ctx, cancel := context.WithTimeout(context.Background(), v.ExpiresAt.Sub(e.Now()))
	defer cancel()
	log := e.log.With("verification_id", v.ID, "txid", v.ProviderRef)
	lastMsg := ""
	for {
		start := time.Now()
		st, err := c.Status(ctx, v.ProviderRef)
		switch {
		case ctx.Err() != nil:
			e.finishPush(v.TenantID, v.ID, DuoStatus{}, true)
			return
		case err != nil:
			// A failed poll is retried until the deadline: the push is
			// still on the phone.
			log.Warn("duo auth_status failed", "err", err)
		case st.Result != "waiting":
			e.finishPush(v.TenantID, v.ID, st, false)
			return
		case st.StatusMsg != "" && st.StatusMsg != lastMsg:
			lastMsg = st.StatusMsg
			e.notePushProgress(ctx, v.TenantID, v.ID, st)
		}
		if d := duoPollFloor - time.Since(start); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
}

// notePushProgress shows Duo's waiting message (e.g. the Verified Push
// code to read out) on the verification.
func (e *Engine) notePushProgress(ctx context.Context, tenantID, id string, st DuoStatus) {
	var v Verification
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		if v, err = tx.LockVerification(ctx, tenantID, id); err != nil || !v.Status.Open() {
			return err
		}
		v.Detail = "Waiting for the user — Duo says: " + ClipRunes(st.StatusMsg, 200, Ellipsis)
		if st.Status != "" {
			v.DeliveryStatus = st.Status
		}
		return tx.UpdateVerification(ctx, &v)
	})
	if err != nil {
		e.log.Warn("duo progress not recorded", "verification_id", id, "err", err)
		return
	}
	e.publish(ctx, e.event(EventVerificationDelivery, v))
}

// duoOutcome is what Duo's final answer means (channels.md §2.6).
type duoOutcome struct {
	verified bool
	status   Status
	detail   string
	alert    bool // deny or fraud: tell the MSP, stop pushes
	failure  bool // counts toward the channel's consecutive failures
}

// duoFinal maps Duo's final auth_status answer. Only allow/allow verifies;
// bypass, unknown and missing values never do (security.md §10).
func duoFinal(st DuoStatus) duoOutcome {
	switch {
	case st.Result == "allow" && st.Status == "allow":
		return duoOutcome{verified: true, detail: "Approved in Duo Mobile"}
	case st.Result == "allow" && st.Status == "bypass":
		return duoOutcome{status: StatusFailed, detail: "the user is in Duo bypass mode — not verified; use another method"}
	case st.Result == "allow":
		return duoOutcome{status: StatusFailed, detail: fmt.Sprintf("Duo answered allow with status %q, which is not an approval of this push — not verified", ClipRunes(st.Status, 40, Ellipsis))}
	case st.Status == "deny":
		return duoOutcome{status: StatusFailed, detail: "the user tapped Deny in Duo Mobile — treat the caller as unverified", alert: true, failure: true}
	case st.Status == "fraud":
		return duoOutcome{status: StatusFailed, detail: "the user reported this push as fraud — treat the caller as unverified", alert: true, failure: true}
	case st.Status == "timeout":
		return duoOutcome{status: StatusFailed, detail: "no response on the phone", failure: true}
	case st.Status == "push_failed":
		return duoOutcome{status: StatusFailed, detail: "the push could not be delivered to the phone; use another method"}
	case st.Status == "locked_out":
		return duoOutcome{status: StatusFailed, detail: "the user is locked out in Duo; use another method"}
	case st.Result == "deny":
		return duoOutcome{status: StatusFailed, detail: fmt.Sprintf("Duo refused the push (%s)", ClipRunes(st.Status+" "+st.StatusMsg, 80, Ellipsis)), failure: true}
	}
	return duoOutcome{status: StatusFailed, detail: fmt.Sprintf("unexpected answer from Duo (%q/%q) — not verified", ClipRunes(st.Result, 20, Ellipsis), ClipRunes(st.Status, 20, Ellipsis))}
}

// finishPush records Duo's final answer (or our deadline passing) on the
// verification, with its ticket note, audit and, for a denial or fraud
// report, the alert to the MSP.
func (e *Engine) finishPush(tenantID, id string, st DuoStatus, expired bool) {
	ctx := context.Background()
	var (
		v      Verification
		evType EventType
		alert  bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		evType, alert = "", false
		now := e.Now()
		var err error
		if v, err = tx.LockVerification(ctx, tenantID, id); err != nil {
			return err
		}
		if !v.Status.Open() {
			d := map[string]string{"reason": "answered after the verification was " + string(v.Status)}
			if !expired {
				d["duo_result"], d["duo_status"] = st.Result, st.Status
			}
			return e.audit(ctx, tx, tenantID, "provider", AuditPushLate, v.ID, d)
		}
		policy, err := EffectivePolicy(ctx, tx, tenantID, v.ClientID)
		if err != nil {
			return err
		}
		if expired {
			v.Status, v.CompletedAt, v.Detail = StatusExpired, now, "no answer from Duo before the push expired"
			evType = EventVerificationExpired
			if err := tx.UpdateVerification(ctx, &v); err != nil {
				return err
			}
			if err := e.queueTicketNote(ctx, tx, v, now); err != nil {
				return err
			}
			return e.audit(ctx, tx, tenantID, "provider", AuditPushAnswered, v.ID, map[string]string{"outcome": "expired"})
		}
		out := duoFinal(st)
		v.DeliveryStatus = ClipRunes(st.Status, 40, Ellipsis)
		if err := e.audit(ctx, tx, tenantID, "provider", AuditPushAnswered, v.ID,
			map[string]string{"duo_result": ClipRunes(st.Result, 40, Ellipsis), "duo_status": ClipRunes(st.Status, 40, Ellipsis), "meaning": out.detail}); err != nil {
			return err
		}
		if out.verified {
			if err := e.markVerified(ctx, tx, policy, &v, "provider", now, &evType); err != nil || v.Status != StatusVerified {
				return err
			}
			if v.Level == AssuranceStrong {
				v.Detail = out.detail + " (" + verifiedDuoPush + ": the caller typed the code)"
			} else {
				v.Detail = out.detail + " (approve-only push)"
			}
			return tx.UpdateVerification(ctx, &v)
		}
		evType, alert = EventVerificationFailed, out.alert
		return e.endPushNotVerified(ctx, tx, policy, &v, now, out.status, out.detail, out.alert, out.failure)
	})
	if err != nil {
		e.log.Error("duo push result not recorded", "verification_id", id, "err", err)
		return
	}
	if alert {
		e.Wake()
	}
	e.finish(ctx, v, evType)
}

// duoPreauthWords says why Duo will not push to a user (channels.md §2.6).
func duoPreauthWords(p DuoPreauth) string {
	switch p.Result {
	case "allow":
		return "Duo does not challenge this user (bypass or policy) — use another method"
	case "deny":
		return "Duo refuses this user (locked out or denied by policy)"
	case "enroll":
		return "Duo user not found or not enrolled in Duo"
	}
	return fmt.Sprintf("unexpected preauth result %q", ClipRunes(p.Result, 20, Ellipsis))
}

// duoErrorWords says what went wrong talking to Duo, without secrets.
func duoErrorWords(err error) string {
	var de *DuoError
	if asDuoError(err, &de) {
		if isDuoParamError(err) {
			return "Duo user not found (" + ClipRunes(de.Message, 80, Ellipsis) + ")"
		}
		if w := duoRefusalWords(de); w != "" {
			// Keys changed in Duo, or the clock drifted, since the setup
			// check: say which, as that check does.
			return "Duo configuration error: " + w + " (" + ClipRunes(de.Message, 80, Ellipsis) + ")"
		}
		return "Duo configuration error: " + ClipRunes(de.Message, 120, Ellipsis)
	}
	return "Duo could not be reached; try again or use another method"
}

// isDuoParamError reports whether Duo refused the parameters (40002: an
// unknown or malformed username), as opposed to the keys or the service.
func isDuoParamError(err error) bool {
	var de *DuoError
	return asDuoError(err, &de) && de.Code == 40002
}

func asDuoError(err error, target **DuoError) bool { return errors.As(err, target) }

// errorWords is an error's user-safe message, or a generic one.
func errorWords(err error) string {
	if m := ErrorMessage(err); m != "" {
		return m
	}
	return "internal error"
}
