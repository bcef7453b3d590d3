package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// pushMethods are the methods the push limits of security.md §4 count
// together: a user bombed through Duo and Microsoft at once is one user.
var pushMethods = []Method{MethodDuoPush, MethodMicrosoftPush}

// isPush reports whether m is a push.
func isPush(m Method) bool { return m == MethodDuoPush || m == MethodMicrosoftPush }

// microsoftNotPushed reports whether v is a Microsoft push whose answer
// says no prompt reached the phone (no app, unknown user, another
// tenant): not counted by the limits, like a Duo push never sent.
func microsoftNotPushed(v Verification) bool {
	return v.Method == MethodMicrosoftPush && microsoftMeaning(v.DeliveryStatus, false).unavailable
}

// microsoftOutcome is what the connector's answer means (channels.md §3.6).
type microsoftOutcome struct {
	verified    bool
	detail      string // what the technician reads
	unavailable bool   // no prompt reached the user: cancelled, not counted
	alert       bool   // denial or fraud report: tell the MSP, stop pushes
	failure     bool   // counts toward the channel's consecutive failures
	known       bool   // a code of the table; unknown ones are logged raw
}

// microsoftCodes maps Result/Value to its meaning. Success is handled
// apart: it verifies only with AuthenticationResult true.
var microsoftCodes = map[string]microsoftOutcome{
	"PhoneAppDenied":     {detail: "the user denied the request in Microsoft Authenticator — treat the caller as unverified", alert: true, failure: true},
	"PhoneAppFraud":      {detail: "the user reported this request as fraud — treat the caller as unverified", alert: true, failure: true},
	"PhoneAppNoResponse": {detail: "no response on the phone", failure: true},
	"InvalidSession":     {detail: "the request expired before the user answered", failure: true},
	"OathCodeIncorrect":  {detail: "code incorrect", failure: true},
	// With SyncCall the connector answers when the user has: pending here
	// is not an approval.
	"AuthenticationPending":                     {detail: "Microsoft had no answer from the user yet — not verified"},
	"AuthenticationMethodNotConfigured":         {detail: "the user has no Microsoft Authenticator push registered", unavailable: true},
	"ProofDataNotFound":                         {detail: "the user has no Microsoft Authenticator push registered", unavailable: true},
	"NoDefaultAuthenticationMethodIsConfigured": {detail: "the user has no default MFA method — cannot push", unavailable: true},
	"AuthenticationMethodNotSupported":          {detail: "Microsoft rejected the method (Authenticator push) for this user", unavailable: true},
	"UserNotFound":                              {detail: "user not found in this Microsoft 365 tenant", unavailable: true},
	"BecAccessDenied":                           {detail: "user not found in this Microsoft 365 tenant", unavailable: true},
	"AccessDenied":                              {detail: "this user belongs to a different Microsoft tenant", unavailable: true},
	"TenantIsBlocked":                           {detail: "Microsoft has blocked this tenant for MFA", unavailable: true},
	"AuthenticationThrottled":                   {detail: "Microsoft is throttling prompts for this user — wait and retry"},
	"AuthenticationMethodLimitReached":          {detail: "Microsoft is throttling prompts for this user — wait and retry"},
	"UserAuthFailedDuplicateRequest":            {detail: "a prompt is already pending for this user"},
}

// microsoftMeaning maps the connector's answer. Only AuthenticationResult
// true with Result/Value Success verifies; every other value fails closed.
func microsoftMeaning(value string, authResult bool) microsoftOutcome {
	switch {
	case value == "Success" && authResult:
		return microsoftOutcome{verified: true, detail: "Approved in Microsoft Authenticator (approve-only push)", known: true}
	case value == "Success":
		return microsoftOutcome{detail: "Microsoft answered Success without a completed authentication — not verified", known: true}
	}
	if o, ok := microsoftCodes[value]; ok {
		o.known = true
		return o
	}
	return microsoftOutcome{detail: fmt.Sprintf("unexpected Microsoft result: %q — not verified", ClipRunes(value, 60, Ellipsis))}
}

// StartMicrosoftPush sends a Microsoft Authenticator push (approve-only)
// to a contact through the client's connected tenant and returns the
// verification: sent (the request's ContextId as ProviderRef) or, when no
// prompt can reach the person, cancelled with the reason in Detail. Only
// a user whose registered methods, read live from Graph, include the app
// is pushed to. The connector's answer is awaited in the background; its
// outcome arrives as an event. The limits are Duo's (checkPushLimits),
// counted across both kinds of push.
func (e *Engine) StartMicrosoftPush(ctx context.Context, req PushRequest) (Verification, error) {
	if e.cfg.Microsoft == nil {
		return Verification{}, Errorf(KindUnavailable, "Microsoft Authenticator push is not available on this server")
	}
	if err := checkPushRequest(&req); err != nil {
		return Verification{}, err
	}
	o, err := e.openMicrosoftPush(ctx, req)
	if err != nil {
		return Verification{}, err
	}
	e.announcePushStarted(ctx, o.v, o.replaced)
	return e.sendMicrosoftPush(ctx, o)
}

// microsoftPushOpening is what openMicrosoftPush found and wrote: the
// pending verification, the client's connected tenant and its user.
type microsoftPushOpening struct {
	v        Verification
	conn     MicrosoftConnection
	user     MicrosoftUser
	replaced []Verification
}

// openMicrosoftPush checks the policy, the client's connection and the
// push limits and records the pending verification, in one transaction
// with the contact locked.
func (e *Engine) openMicrosoftPush(ctx context.Context, req PushRequest) (microsoftPushOpening, error) {
	var o microsoftPushOpening
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		o = microsoftPushOpening{}
		now := e.Now()
		p, err := readPushParties(ctx, tx, req, MethodMicrosoftPush)
		if err != nil {
			return err
		}
		if o.conn, err = microsoftPushConnection(ctx, tx, req.TenantID, p.contact); err != nil {
			return err
		}
		if err := e.lockForPush(ctx, tx, req.TenantID, p, DestMicrosoft, now); err != nil {
			return err
		}
		if o.user, err = microsoftPushUser(ctx, tx, req.TenantID, o.conn.ID, p.contact); err != nil {
			return err
		}
		o.v = newPush(req, p, MethodMicrosoftPush, DestMicrosoft, o.conn.ID, o.user.UPN, "checking the user's Microsoft Authenticator", now)
		o.replaced, err = e.recordPushStarted(ctx, tx, &o.v, map[string]string{"method": string(o.v.Method), "contact": p.contact.ID,
			"connection": o.conn.ID, "upn": o.user.UPN, "ticket": o.v.TicketRef}, now)
		return err
	})
	return o, err
}

// microsoftPushConnection is the Microsoft 365 tenant connected for the
// contact's own client, never another's: a user of one customer's
// Microsoft tenant is never pushed for another. Its push must be on.
func microsoftPushConnection(ctx context.Context, tx Tx, tenantID string, c Contact) (MicrosoftConnection, error) {
	conn, err := tx.MicrosoftConnectionOfClient(ctx, tenantID, c.ClientID)
	switch {
	case isNotFound(err) || c.ClientID == "":
		return conn, Errorf(KindInvalid, "no Microsoft 365 tenant is connected for this contact's client; an admin can connect it")
	case err != nil:
		return conn, err
	case !conn.PushEnabled:
		return conn, Errorf(KindForbidden, "Microsoft Authenticator push is switched off for this client's Microsoft 365 tenant")
	}
	return conn, nil
}

// microsoftPushUser is the enabled Microsoft 365 user contact c is
// matched to in connection connID.
func microsoftPushUser(ctx context.Context, tx Tx, tenantID, connID string, c Contact) (MicrosoftUser, error) {
	user, err := tx.MicrosoftUserOfContact(ctx, tenantID, connID, c.ID)
	if isNotFound(err) {
		return user, Errorf(KindInvalid, "%s is not matched to a Microsoft 365 user; import the tenant's users or match them on the Microsoft 365 page", c.Name())
	}
	if err != nil {
		return user, err
	}
	if !user.Enabled {
		return user, Errorf(KindInvalid, "the Microsoft 365 account %s is disabled", user.UPN)
	}
	return user, nil
}

// sendMicrosoftPush reads the user's registered methods live from Graph
// (an import may be days old), records the push when they include the
// app and awaits the connector's answer in the background. A push that
// cannot reach the user ends the verification as cancelled.
func (e *Engine) sendMicrosoftPush(ctx context.Context, o microsoftPushOpening) (Verification, error) {
	v, user := o.v, o.user
	client, err := e.microsoftClient(o.conn)
	if err != nil {
		return e.pushUnavailable(ctx, v, "", "Microsoft 365 configuration error: "+errorWords(err))
	}
	cctx, cancel := context.WithTimeout(ctx, microsoftCallTimeout)
	defer cancel()
	types, err := client.AuthMethods(cctx, user.ObjectID)
	if err != nil {
		return e.pushUnavailable(ctx, v, "", "cannot read the user's methods from Microsoft Graph: "+errorWords(microsoftMethodsError(err)))
	}
	app, names := summarizeMethods(types)
	if app != user.Authenticator || names != user.Methods {
		if err := e.noteMicrosoftMethods(ctx, user, app, names); err != nil {
			return Verification{}, err
		}
	}
	if !app {
		why := "no Microsoft Authenticator registered for " + user.UPN
		if names != "" {
			why += " (registered: " + names + ")"
		}
		return e.pushUnavailable(ctx, v, "", why+"; use another method")
	}
	contextID := newContextID()
	sent, live, err := e.markPushSent(ctx, v, pushSend{destination: v.Destination, ref: contextID,
		detail: "Approve-only push sent to Microsoft Authenticator, waiting for the user",
		audit:  map[string]string{"context_id": contextID, "upn": v.Destination}})
	if err != nil {
		return Verification{}, err
	}
	if live {
		e.awaitPush(func() { e.runMicrosoftPush(client, sent) })
	}
	return sent, nil
}

// newContextID is a fresh GUID (version 4) for the request's ContextId.
func newContextID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// noteMicrosoftMethods records a user's registered methods found changed
// since the import.
func (e *Engine) noteMicrosoftMethods(ctx context.Context, u MicrosoftUser, app bool, names string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		was := u.Authenticator
		u.Authenticator, u.Methods = app, names
		if err := tx.PutMicrosoftUser(ctx, &u); err != nil {
			return err
		}
		return e.audit(ctx, tx, u.TenantID, "system", AuditMicrosoftMethodsChanged, u.ConnectionID, map[string]string{
			"upn": u.UPN, "authenticator": fmt.Sprint(app), "was": fmt.Sprint(was), "methods": names})
	})
}

// runMicrosoftPush sends the push and waits for the user's answer (the
// connector's call blocks), until v expires. It runs in the background:
// the request that pressed Push is done.
func (e *Engine) runMicrosoftPush(c MicrosoftClient, v Verification) {
	// A timeout, not a deadline: the engine's clock need not be the wall's.
	ctx, cancel := context.WithTimeout(context.Background(), v.ExpiresAt.Sub(e.Now()))
	defer cancel()
	r, err := c.BeginTwoWay(ctx, MicrosoftPush{UPN: v.Destination, ContextID: v.ProviderRef})
	switch {
	case ctx.Err() != nil:
		e.finishMicrosoftPush(v, MicrosoftResult{}, nil, true)
	default:
		e.finishMicrosoftPush(v, r, err, false)
	}
}

// finishMicrosoftPush records the connector's answer (or our deadline, or
// a failed call) on the verification, with its ticket note, audit and,
// for a denial or fraud report, the alert to the MSP — in one transaction.
func (e *Engine) finishMicrosoftPush(v0 Verification, r MicrosoftResult, callErr error, expired bool) {
	ctx := context.Background()
	out := microsoftMeaning(r.Value, r.AuthenticationResult)
	if callErr == nil && !expired && !out.known {
		// Raw answers (no tokens in them) for codes we do not know yet.
		e.log.Warn("unexpected Microsoft connector result", "verification_id", v0.ID, "value", ClipRunes(r.Value, 60, Ellipsis),
			"raw", ClipRunes(r.Raw, 2000, Ellipsis))
	}
	if callErr != nil {
		e.log.Warn("Microsoft connector call failed", "verification_id", v0.ID, "err", callErr)
	}
	var (
		v      Verification
		evType EventType
		alert  bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		evType, alert = "", false
		now := e.Now()
		var err error
		if v, err = tx.LockVerification(ctx, v0.TenantID, v0.ID); err != nil {
			return err
		}
		if !v.Status.Open() {
			d := map[string]string{"reason": "answered after the verification was " + string(v.Status)}
			if callErr == nil && !expired {
				d["microsoft_result"] = ClipRunes(r.Value, 60, Ellipsis)
			}
			return e.audit(ctx, tx, v.TenantID, "provider", AuditPushLate, v.ID, d)
		}
		policy, err := EffectivePolicy(ctx, tx, v.TenantID, v.ClientID)
		if err != nil {
			return err
		}
		switch {
		case expired:
			v.Status, v.CompletedAt, v.Detail = StatusExpired, now, "no answer from Microsoft before the push expired"
			evType = EventVerificationExpired
		case callErr != nil:
			v.Status, v.CompletedAt, v.Detail = StatusFailed, now, microsoftCallWords(callErr)
			evType = EventVerificationFailed
		}
		if expired || callErr != nil {
			if err := tx.UpdateVerification(ctx, &v); err != nil {
				return err
			}
			if err := e.queueTicketNote(ctx, tx, v, now); err != nil {
				return err
			}
			return e.audit(ctx, tx, v.TenantID, "provider", AuditPushAnswered, v.ID,
				map[string]string{"outcome": string(v.Status), "meaning": v.Detail})
		}
		v.DeliveryStatus = ClipRunes(r.Value, 60, Ellipsis)
		if err := e.audit(ctx, tx, v.TenantID, "provider", AuditPushAnswered, v.ID, map[string]string{
			"microsoft_result": ClipRunes(r.Value, 60, Ellipsis), "authentication_result": fmt.Sprint(r.AuthenticationResult),
			"message": ClipRunes(r.Message, 200, Ellipsis), "meaning": out.detail}); err != nil {
			return err
		}
		if out.verified {
			if err := e.markVerified(ctx, tx, policy, &v, "provider", now, &evType); err != nil || v.Status != StatusVerified {
				return err
			}
			v.Detail = out.detail
			return tx.UpdateVerification(ctx, &v)
		}
		if out.unavailable {
			evType = EventVerificationCancelled
			return e.endPushNotVerified(ctx, tx, policy, &v, now, StatusCancelled, "Microsoft Authenticator push unavailable: "+out.detail, false, out.failure)
		}
		evType, alert = EventVerificationFailed, out.alert
		return e.endPushNotVerified(ctx, tx, policy, &v, now, StatusFailed, out.detail, out.alert, out.failure)
	})
	if err != nil {
		e.log.Error("Microsoft push result not recorded", "verification_id", v0.ID, "err", err)
		return
	}
	if alert {
		e.Wake()
	}
	e.finish(ctx, v, evType)
}

// microsoftCallWords says why the push call failed, without secrets.
func microsoftCallWords(err error) string {
	var me *MicrosoftError
	if errors.As(err, &me) {
		return "Microsoft refused the push request: " + errorWords(microsoftSetupError(err, true))
	}
	return "Microsoft could not be reached; the push may not have arrived — not verified"
}
