package core

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// StartRequest asks the engine to send a challenge. TenantID and
// TechnicianID come from the authenticated context, never from request input.
type StartRequest struct {
	TenantID      string
	TechnicianID  string
	ContactID     string
	DestinationID string // "" means the contact's default destination for the method
	Method        Method
	TicketRef     string
	Note          string // why a non-default destination or contact is used, e.g. "Manager approval"
	// AlternateContact says the technician chose a contact other than the
	// one the ticket names (pods know the ticket's contact; the engine does
	// not): the policy's note rule applies as for a non-default destination.
	AlternateContact bool
	// IntegrationID names the PSA integration TicketRef belongs to (pods);
	// the result is then written to the ticket as a note.
	IntegrationID string
	// System, with TechnicianID "", starts the verification on no
	// technician's behalf: the policy acting on a PSA's new-ticket callback
	// ("integration:int_…"). Audit names "system:"+System; the message
	// names no technician; quotas count it as one technician; and any
	// technician of the tenant may then act on it (security.md §3: a role
	// explicitly allowed to take it over).
	System string
	// Purpose is why the technician verifies (PurposeReset before a
	// password or MFA reset): the policy's minimum assurance for it applies.
	Purpose Purpose
}

// systemStarter prefixes the technician id of a verification started by
// StartRequest.System.
const systemStarter = "system:"

// StartedBySystem reports whether v was started on no technician's behalf.
func StartedBySystem(v Verification) bool { return strings.HasPrefix(v.TechnicianID, systemStarter) }

// Started is the result of Start and Resend.
type Started struct {
	Verification Verification
	// TechCode is the short code the technician reads to the caller, who types
	// it on the link page (security.md §5 item 3); "" when the method has none.
	// It is the only code a technician ever sees.
	TechCode string
}

// Limits on free text that ends up in rows and notes.
const (
	maxNoteLen      = 500
	maxTicketRefLen = 100
)

// Start creates a verification and queues its first send. Everything it
// writes — verification, send record, outbox item, audit event — commits
// together or not at all.
func (e *Engine) Start(ctx context.Context, req StartRequest) (Started, error) {
	p, err := e.checkStartRequest(&req)
	if err != nil {
		return Started{}, err
	}
	var (
		out      Started
		item     *OutboxItem
		replaced []Verification
	)
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		tx.BatchWrites()
		e.dropRetriedItem(&item)
		replaced = nil
		var err error
		out, item, replaced, err = e.start(ctx, tx, req, p)
		return err
	})
	e.afterQueue(item, err)
	if err != nil {
		return Started{}, e.auditRefusal(ctx, req.TenantID, refusalActor(req), req.ContactID, err)
	}
	for _, old := range replaced {
		e.finish(ctx, old, EventVerificationCancelled)
	}
	e.observe(req.Method, "started")
	e.publish(ctx, e.event(EventVerificationStarted, out.Verification))
	return out, nil
}

// checkStartRequest trims req's free text and checks what needs no store:
// the method is known, a contact is named, the note and ticket reference
// fit. It returns the method's provider.
func (e *Engine) checkStartRequest(req *StartRequest) (Provider, error) {
	p, ok := e.providers[req.Method]
	if !ok {
		return nil, Errorf(KindInvalid, "unknown method %q (want one of %s)", req.Method, joinMethods(e.Methods()))
	}
	req.Note = strings.TrimSpace(req.Note)
	req.TicketRef = strings.TrimSpace(req.TicketRef)
	if err := checkPurpose(req.Purpose); err != nil {
		return nil, err
	}
	switch {
	case req.ContactID == "":
		return nil, Errorf(KindInvalid, "contact is required")
	case utf8.RuneCountInString(req.Note) > maxNoteLen:
		return nil, Errorf(KindInvalid, "note must be at most %d characters", maxNoteLen)
	case utf8.RuneCountInString(req.TicketRef) > maxTicketRefLen:
		return nil, Errorf(KindInvalid, "ticket reference must be at most %d characters", maxTicketRefLen)
	case req.IntegrationID == "":
		// A typed reference; one with an integration was resolved through
		// the PSA and reaches messages only in its checked form.
		if err := CheckTicketRef(req.TicketRef); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// start is Start's transaction: it checks the request against the store and
// the policy, replaces the contact's live verification, and writes the new
// one, its first send and its audit event.
func (e *Engine) start(ctx context.Context, tx Tx, req StartRequest, p Provider) (Started, *OutboxItem, []Verification, error) {
	now := e.Now()
	// The contact is locked first: what this transaction then counts of
	// its verifications (stats.Open) stays true until the commit. The
	// lock's read brings the tenant along (LockContactFor), so reading it
	// after costs no round trip.
	contact, tech, actor, err := startingContact(ctx, tx, req)
	if err != nil {
		return Started{}, nil, nil, err
	}
	tenant, err := tx.Tenant(ctx, req.TenantID)
	if err != nil {
		return Started{}, nil, nil, err
	}
	dest, nonDefault, err := startDestination(contact, p, req)
	if err != nil {
		return Started{}, nil, nil, err
	}
	policy, stats, err := e.checkStartPolicy(ctx, tx, req, contact, dest, nonDefault, tech, now)
	if err != nil {
		return Started{}, nil, nil, err
	}
	v := Verification{
		IntegrationID: req.IntegrationID,
		ID:            NewID("ver"),
		TenantID:      req.TenantID,
		ClientID:      contact.ClientID,
		ContactID:     contact.ID,
		DestinationID: dest.ID,
		DestKind:      dest.Kind,
		Destination:   dest.Value,
		Method:        req.Method,
		TicketRef:     req.TicketRef,
		TechnicianID:  tech.ID,
		Purpose:       req.Purpose,
		Status:        StatusPending,
		MaxAttempts:   policy.MaxAttempts,
		Note:          req.Note,
		CreatedAt:     now,
	}
	secret, err := e.issueSecret(&v, p, policy, now)
	if err != nil {
		return Started{}, nil, nil, err
	}
	var replaced []Verification
	if stats.Open > 0 {
		replaced, err = e.replaceLive(ctx, tx, v, actor, now)
	}
	if err != nil {
		return Started{}, nil, nil, err
	}
	// The verification is inserted with its first send counted, not
	// inserted and then updated.
	item, err := e.queueSend(ctx, tx, tenant, contact, tech, policy, p, &v, secret, stats, true, now)
	if err != nil {
		return Started{}, nil, nil, err
	}
	if err := e.audit(ctx, tx, req.TenantID, actor, string(EventVerificationStarted), v.ID,
		startedDetail(v, contact, req, nonDefault)); err != nil {
		return Started{}, item, nil, err
	}
	return Started{Verification: v, TechCode: secret.techCode}, item, replaced, nil
}

// startingContact locks the contact a verification is started for and
// reads the technician it is started by, in one read, and returns the
// audit actor naming them: the system actor when req.System starts it on
// no technician's behalf.
func startingContact(ctx context.Context, tx Tx, req StartRequest) (Contact, Technician, string, error) {
	if req.TechnicianID == "" && req.System != "" {
		tech := Technician{ID: systemStarter + req.System, TenantID: req.TenantID}
		contact, _, err := tx.LockContactFor(ctx, req.TenantID, "", req.ContactID)
		return contact, tech, tech.ID, err
	}
	if req.TechnicianID == "" {
		return Contact{}, Technician{}, "", fmt.Errorf("technician: %w", Errorf(KindNotFound, "no technician"))
	}
	contact, tech, err := tx.LockContactFor(ctx, req.TenantID, req.TechnicianID, req.ContactID)
	if err != nil {
		return Contact{}, Technician{}, "", err
	}
	return contact, tech, techActor(tech.ID), nil
}

// startDestination picks the contact's destination req names, or its
// default for the method, and reports whether it is not the default.
func startDestination(contact Contact, p Provider, req StartRequest) (Destination, bool, error) {
	def, hasDefault := contact.DefaultDestination(p.DestinationKind())
	var dest Destination
	if req.DestinationID == "" {
		if !hasDefault {
			return Destination{}, false, Errorf(KindInvalid, "%s has no %s on record for %s", contact.Name(), p.DestinationKind(), req.Method)
		}
		dest = def
	} else {
		var err error
		if dest, err = contact.Destination(req.DestinationID); err != nil {
			return Destination{}, false, err
		}
	}
	if dest.Kind != p.DestinationKind() {
		return Destination{}, false, Errorf(KindInvalid, "%s needs a %s destination, not %s", req.Method, p.DestinationKind(), dest.Kind)
	}
	return dest, dest.ID != def.ID, nil
}

// checkStartPolicy applies the contact's effective policy to a start: the
// method is allowed, a note is given where the policy requires one, the
// channel is not locked by failures, the send quotas leave room, and a
// ticket of an integration names one of the tenant's integrations. It
// returns the policy and the send counts it was checked against.
func (e *Engine) checkStartPolicy(ctx context.Context, tx Tx, req StartRequest, contact Contact, dest Destination,
	nonDefault bool, tech Technician, now time.Time) (Policy, SendStats, error) {
	policy, err := EffectivePolicy(ctx, tx, req.TenantID, contact.ClientID)
	if err != nil {
		return Policy{}, SendStats{}, err
	}
	if !policy.Allows(req.Method) {
		return Policy{}, SendStats{}, Errorf(KindForbidden, "the policy for this client does not allow %s", req.Method)
	}
	if err := policy.CheckAssurance(req.Method, req.Purpose); err != nil {
		return Policy{}, SendStats{}, err
	}
	// One read for the failure cap, every quota, the channel's state and
	// the destination's opt-out.
	var channel string
	if p, ok := e.providers[req.Method]; ok {
		channel = channelOf(Outbound{Kind: p.OutboxKind()})
	}
	stats, err := sendStats(ctx, tx, req.TenantID, contact.ID, dest, tech.ID, channel, now)
	if err != nil {
		return Policy{}, SendStats{}, err
	}
	if err := e.checkChannel(ctx, tx, req.TenantID, channel, tech, now, &stats.ChannelIssue); err != nil {
		return Policy{}, SendStats{}, err
	}
	if policy.NoteOnNonDefault && policy.NoteRequired && req.Note == "" {
		switch {
		case req.AlternateContact:
			return Policy{}, SendStats{}, Errorf(KindInvalid, "a note is required when verifying someone other than the ticket's contact (e.g. \"Manager approval\")")
		case nonDefault:
			return Policy{}, SendStats{}, Errorf(KindInvalid, "a note is required when using a non-default destination (e.g. \"Manager approval\")")
		}
	}
	if err := failureCapError(policy, dest.Kind, stats.Failures); err != nil {
		return Policy{}, SendStats{}, err
	}
	if err := quotaError(policy, stats); err != nil {
		return Policy{}, SendStats{}, err
	}
	if req.IntegrationID != "" {
		if req.TicketRef == "" {
			return Policy{}, SendStats{}, Errorf(KindInvalid, "an integration is given without a ticket")
		}
		if _, err := tx.Integration(ctx, req.TenantID, req.IntegrationID); err != nil {
			return Policy{}, SendStats{}, err
		}
	}
	return policy, stats, nil
}

// startedDetail is the audit detail of a started verification.
func startedDetail(v Verification, contact Contact, req StartRequest, nonDefault bool) map[string]string {
	detail := map[string]string{"method": string(v.Method), "destination": v.MaskedDestination(), "contact": contact.ID}
	if v.TicketRef != "" {
		detail["ticket"] = v.TicketRef
	}
	if nonDefault {
		detail["non_default_destination"] = "true"
	}
	if req.AlternateContact {
		detail["alternate_contact"] = "true"
	}
	if v.Note != "" {
		detail["note"] = v.Note
	}
	if v.Purpose != "" {
		detail["purpose"] = string(v.Purpose)
	}
	return detail
}

// detailReplaced is the result detail of a verification that a newer one
// for the same contact replaced.
const detailReplaced = "replaced by a newer verification"

// replaceLive keeps one live verification per contact: it cancels every
// verification of v's contact still open, whoever started it, as v (not yet
// stored) is about to take its place. Their secrets die with the
// transaction's commit: a code or link the caller still holds is refused
// from then on. Each is audited as cancelled with the id of its successor,
// and one started from a PSA ticket gets its note. It returns the cancelled
// verifications, for the events the caller publishes after the commit.
func (e *Engine) replaceLive(ctx context.Context, tx Tx, v Verification, actor string, now time.Time) ([]Verification, error) {
	open, err := tx.LockOpenVerifications(ctx, v.TenantID, v.ContactID)
	if err != nil {
		return nil, err
	}
	var out []Verification
	for _, old := range open {
		if old.EffectiveStatus(now) != old.Status {
			continue // already expired: dead, and shown so
		}
		old.Status, old.CompletedAt, old.Detail = StatusCancelled, now, detailReplaced
		if err := tx.UpdateVerification(ctx, &old); err != nil {
			return nil, err
		}
		if err := e.queueOutcome(ctx, tx, old, now); err != nil {
			return nil, err
		}
		if err := e.audit(ctx, tx, v.TenantID, actor, string(EventVerificationCancelled), old.ID,
			map[string]string{"reason": detailReplaced, "replaced_by": v.ID, "method": string(old.Method)}); err != nil {
			return nil, err
		}
		out = append(out, old)
	}
	return out, nil
}

// dropRetriedItem releases the send slot of an item queued by an earlier
// run of a transaction function that the store is retrying.
func (e *Engine) dropRetriedItem(item **OutboxItem) {
	if *item != nil {
		e.releaseSlot()
		*item = nil
	}
}

// afterQueue starts the send of an item queued in a transaction that ended
// with err, or wakes the worker when the item was left to it.
func (e *Engine) afterQueue(item *OutboxItem, err error) {
	e.sendAfterCommit(item, err == nil)
	if err == nil && item == nil {
		e.Wake()
	}
}

// issuedSecret is a freshly generated secret, in memory only.
type issuedSecret struct {
	code     string // read-back code
	token    string // link token
	techCode string // technician-read code for links
}

// issueSecret generates the secret for v's method and stores only its hashes
// on v, with a fresh expiry. Any earlier secret of v is thereby revoked.
func (e *Engine) issueSecret(v *Verification, p Provider, policy Policy, now time.Time) (issuedSecret, error) {
	var s issuedSecret
	var err error
	switch p.Secret() {
	case SecretCode:
		if s.code, err = newCode(e.cfg.Rand, policy.CodeDigits); err != nil {
			return s, err
		}
		v.SecretHash = codeHash(e.cfg.CodeKey, v.ID, string(v.Method), s.code)
		v.LinkTokenHash = nil
	case SecretLink:
		if s.token, err = newLinkToken(e.cfg.Rand); err != nil {
			return s, err
		}
		v.LinkTokenHash = LinkTokenHash(s.token)
		v.SecretHash = nil
		if policy.LinkCodeFor(v.Method) {
			if s.techCode, err = newCode(e.cfg.Rand, linkCodeDigits); err != nil {
				return s, err
			}
			v.SecretHash = codeHash(e.cfg.CodeKey, v.ID, linkCodeChannel, s.techCode)
		}
	default:
		return s, fmt.Errorf("core: provider %s has unknown secret kind %q", p.Method(), p.Secret())
	}
	v.ExpiresAt = now.Add(policy.Lifetime.D())
	return s, nil
}

// The technician-read code on links is short: it only has to tie the click to
// the live call, and the link itself carries 256 bits (security.md §5 item 3).
const (
	linkCodeDigits  = 6
	linkCodeChannel = "link-code"
)

// queueSend records a send of v's current secret and writes its sealed
// message to the outbox. create says v is new: it is then inserted, with
// this send counted, instead of updated. stats are the counts the send
// was checked against (sendStats).
func (e *Engine) queueSend(ctx context.Context, tx Tx, tenant Tenant, contact Contact, tech Technician,
	policy Policy, p Provider, v *Verification, s issuedSecret, stats SendStats, create bool, now time.Time) (*OutboxItem, error) {
	v.Sends++
	v.SentAt = now
	ch := Challenge{Tenant: tenant, Contact: contact, Technician: tech, Verification: *v, Policy: policy,
		Code: s.code, Renderer: e.cfg.Renderer}
	if s.token != "" {
		ch.Link = e.LinkURL(tenant.Slug, s.token)
	}
	if e.cfg.StatusCallbacks && p.OutboxKind() != OutboxEmail {
		ch.StatusCallback = e.cfg.PublicURL + "/webhooks/twilio/status/" + tenant.Slug
	}
	msg, err := p.Compose(ch)
	if err != nil {
		return nil, fmt.Errorf("core: compose %s: %w", v.Method, err)
	}
	var optedOut *bool // known from stats for the verification's own number
	if msg.To == v.Destination {
		optedOut = &stats.OptedOut
	}
	if refused, err := e.checkPhoneSend(ctx, tx, v.TenantID, msg.Kind, msg.To, optedOut); err != nil || refused != nil {
		if refused != nil {
			return nil, refused
		}
		return nil, err
	}
	if msg.Kind == OutboxSMS {
		// The notice goes with the first text to the number in a year.
		msg.Text = CarrierWording(msg.Text, tenant.DisplayName(), !stats.DestinationYear)
	}
	store := tx.UpdateVerification
	if create {
		store = tx.CreateVerification
	}
	if err := store(ctx, v); err != nil {
		return nil, err
	}
	if err := tx.RecordSend(ctx, &Send{ID: NewID("snd"), TenantID: v.TenantID, VerificationID: v.ID,
		ContactID: v.ContactID, Destination: v.Destination, TechnicianID: tech.ID, Method: v.Method, At: now}); err != nil {
		return nil, err
	}
	item, err := e.enqueue(ctx, tx, v.TenantID, v.ID, v.Sends, msg, now)
	if item != nil && err == nil && optedOut != nil {
		// Sent straight after the commit: this transaction has read what
		// the send is decided on — the rules passed above, the settings
		// (read by enqueue, answered again from the transaction's memory)
		// and the channel's state.
		f := &deliveryFacts{issue: stats.ChannelIssue}
		if messageKind(msg.Kind) {
			f.settings, f.settingsErr = e.channelSettings(ctx, tx, v.TenantID)
		}
		item.checked = f
	}
	return item, err
}

// LinkURL builds the end-user URL for a link token from the configured public
// base URL, never from a request's Host header (security.md §2).
func (e *Engine) LinkURL(tenantSlug, token string) string {
	return e.cfg.PublicURL + "/l/" + tenantSlug + "/" + token
}

// checkFailureCap refuses a channel locked by consecutive failures (NIST §3.2.2).
func (e *Engine) checkFailureCap(ctx context.Context, tx Tx, p Policy, tenantID, contactID string, k DestinationKind) error {
	n, err := tx.FailureCount(ctx, tenantID, contactID, k)
	if err != nil {
		return err
	}
	return failureCapError(p, k, n)
}

// failureCapError refuses a channel with n consecutive failures at the cap.
func failureCapError(p Policy, k DestinationKind, n int) error {
	if n >= p.FailureCap {
		return Errorf(KindForbidden, "%s verification for this contact is locked after %d consecutive failures; an admin can reset the lock on the contact's card, or verify another way", k, n)
	}
	return nil
}

// failureKinds are the channels whose consecutive failures are counted:
// the destinations' and the pushes' (a Duo or Microsoft Deny counts on
// its own channel), and the workstation prompt's.
var failureKinds = []DestinationKind{DestPhone, DestEmail, DestDuo, DestMicrosoft, DestWorkstation}

// ResetLock is an admin's reset of a contact's channels locked by
// consecutive failures (security.md §1.2: locked "until a success on
// another channel or an admin reset"): each channel's count of consecutive
// failures goes back to zero, audited with what it was. It returns the
// channels that had failures; none is a conflict ("nothing to reset").
// A technician who is not an admin is refused.
func (e *Engine) ResetLock(ctx context.Context, tenantID, techID, contactID string) ([]DestinationKind, error) {
	var reset []DestinationKind
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		reset = nil
		tech, err := tx.Technician(ctx, tenantID, techID)
		if err != nil {
			return err
		}
		if !tech.Role.IsAdmin() {
			return Errorf(KindForbidden, "only an admin or owner can reset a lock; ask one")
		}
		contact, err := tx.Contact(ctx, tenantID, contactID)
		if err != nil {
			return err
		}
		detail := map[string]string{}
		now := e.Now()
		for _, k := range failureKinds {
			n, err := tx.FailureCount(ctx, tenantID, contactID, k)
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if err := tx.SetFailureCount(ctx, tenantID, contactID, k, 0, now); err != nil {
				return err
			}
			reset = append(reset, k)
			detail[string(k)] = fmt.Sprint(n)
		}
		// A push stop (security.md §4: "admin override only") is lifted
		// too: the refusals answered until now no longer stop pushes; a
		// new one does again.
		p, err := EffectivePolicy(ctx, tx, tenantID, contact.ClientID)
		if err != nil {
			return err
		}
		history, err := tx.ListVerifications(ctx, tenantID, contactID, 100)
		if err != nil {
			return err
		}
		stop, what, err := pushStop(ctx, tx, p, history, tenantID, contactID, now)
		if err != nil {
			return err
		}
		if what != "" {
			if err := tx.LiftPushStop(ctx, tenantID, contactID, now); err != nil {
				return err
			}
			k := stop.DestKind
			if !slices.Contains(reset, k) {
				reset = append(reset, k)
			}
			detail["push_stop"] = what + " " + stop.ID
		}
		if len(reset) == 0 {
			return Errorf(KindConflict, "nothing to reset: no failures are counted against this contact and pushes to them are not stopped")
		}
		return e.audit(ctx, tx, tenantID, techActor(techID), AuditVerificationLockReset, contactID, detail)
	})
	return reset, err
}

// sendStats reads, in one statement, what a send to dest by techID is
// checked against: the quotas' counts, whether dest had a send in the last
// year, and the contact's consecutive failures on dest's kind.
func sendStats(ctx context.Context, tx Tx, tenantID, contactID string, dest Destination, techID, channel string, now time.Time) (SendStats, error) {
	return tx.SendStats(ctx, tenantID, SendStatsQuery{ContactID: contactID, Destination: dest.Value, TechnicianID: techID,
		Kind: dest.Kind, Hour: now.Add(-time.Hour), Day: now.Add(-24 * time.Hour), Year: now.AddDate(-1, 0, 0), Channel: channel})
}

// quotaError enforces the send quotas of security.md §6 per contact,
// destination, technician and tenant on the counts s.
func quotaError(p Policy, s SendStats) error {
	checks := []struct {
		n, limit int
		what     string
	}{
		{s.ContactHour, p.Limits.PerContactHour, "this contact has been sent %d messages in the last hour"},
		{s.DestinationHour, p.Limits.PerDestinationHour, "this destination has been sent %d messages in the last hour"},
		{s.TechnicianHour, p.Limits.PerTechnicianHour, "you have sent %d verifications in the last hour"},
		{s.TenantDay, p.Limits.PerTenantDay, "your organisation has sent %d verifications today"},
	}
	for _, c := range checks {
		if c.n >= c.limit {
			return Errorf(KindRateLimited, c.what+" (limit %d); try again later", c.n, c.limit)
		}
	}
	return nil
}

// Resend sends a new secret for an open verification. The previous secret is
// revoked and the attempt counter is kept (NIST §3.1.3.2); resends are capped
// per verification with a cooldown that doubles each time.
func (e *Engine) Resend(ctx context.Context, tenantID, techID, verificationID string) (Started, error) {
	var (
		out  Started
		item *OutboxItem
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		e.dropRetriedItem(&item)
		now := e.Now()
		v, tech, err := e.lockForTechnician(ctx, tx, tenantID, techID, verificationID)
		if err != nil {
			return err
		}
		if !v.Status.Open() {
			return Errorf(KindGone, "this verification is %s; start a new one", v.Status)
		}
		p, ok := e.providers[v.Method]
		if !ok {
			return Errorf(KindInvalid, "method %q is no longer available", v.Method)
		}
		tenant, err := tx.Tenant(ctx, tenantID)
		if err != nil {
			return err
		}
		contact, err := tx.Contact(ctx, tenantID, v.ContactID)
		if err != nil {
			return err
		}
		policy, err := EffectivePolicy(ctx, tx, tenantID, v.ClientID)
		if err != nil {
			return err
		}
		if v.Sends >= policy.MaxSends {
			return Errorf(KindRateLimited, "this verification has been sent %d times (the limit); start a new one or use another method", v.Sends)
		}
		cooldown := policy.ResendCooldown.D() << (v.Sends - 1)
		if wait := v.SentAt.Add(cooldown).Sub(now); wait > 0 {
			return Errorf(KindRateLimited, "wait %d seconds before resending", int((wait+time.Second-1)/time.Second))
		}
		channel := channelOf(Outbound{Kind: p.OutboxKind()})
		stats, err := sendStats(ctx, tx, tenantID, v.ContactID, Destination{Kind: v.DestKind, Value: v.Destination}, tech.ID, channel, now)
		if err != nil {
			return err
		}
		if err := quotaError(policy, stats); err != nil {
			return err
		}
		if err := e.checkChannel(ctx, tx, tenantID, channel, tech, now, &stats.ChannelIssue); err != nil {
			return err
		}
		secret, err := e.issueSecret(&v, p, policy, now)
		if err != nil {
			return err
		}
		v.Status = StatusPending
		if v.DeliveryStatus == DeliveryMisconfigured {
			v.Detail = ""
		}
		v.DeliveryStatus, v.ProviderRef = "", ""
		if item, err = e.queueSend(ctx, tx, tenant, contact, tech, policy, p, &v, secret, stats, false, now); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, tenantID, techActor(tech.ID), string(EventVerificationResent), v.ID,
			map[string]string{"send": fmt.Sprint(v.Sends)}); err != nil {
			return err
		}
		out = Started{Verification: v, TechCode: secret.techCode}
		return nil
	})
	e.afterQueue(item, err)
	if err != nil {
		return Started{}, e.auditRefusal(ctx, tenantID, techActor(techID), verificationID, err)
	}
	e.publish(ctx, e.event(EventVerificationResent, out.Verification))
	return out, nil
}

// lockForTechnician locks a verification for a change by a technician: only
// the technician who started it, or an admin, may act on it (security.md §3).
func (e *Engine) lockForTechnician(ctx context.Context, tx Tx, tenantID, techID, id string) (Verification, Technician, error) {
	v, tech, err := tx.LockVerificationFor(ctx, tenantID, techID, id)
	if err != nil {
		return Verification{}, Technician{}, err
	}
	if v.TechnicianID != tech.ID && !tech.Role.IsAdmin() && !StartedBySystem(v) {
		return Verification{}, Technician{}, Errorf(KindForbidden, "only the technician who started this verification (or an admin) can act on it")
	}
	return v, tech, nil
}

// CheckCode checks a code the caller read back to the technician. One
// transaction locks the verification, counts the attempt and decides, so
// concurrent guesses are counted exactly and at most one succeeds.
func (e *Engine) CheckCode(ctx context.Context, tenantID, techID, verificationID, code string) (Verification, error) {
	code, err := checkCodeInput(code)
	if err != nil {
		return Verification{}, err
	}
	var (
		v       Verification
		outcome error
		evType  EventType
	)
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		tx.BatchWrites()
		now := e.Now()
		var (
			policy Policy
			actor  string
			err    error
		)
		if v, policy, actor, err = e.openCodeCheck(ctx, tx, tenantID, techID, verificationID, code); err != nil {
			return err
		}
		evType, outcome, err = e.decideCode(ctx, tx, policy, &v, actor, code, now)
		return err
	})
	if err != nil {
		return Verification{}, err
	}
	e.finish(ctx, v, evType)
	return v, outcome
}

// checkCodeInput normalises a code the technician typed and refuses input
// that cannot be a code before anything is counted: a typo must not burn
// one of the caller's attempts.
func checkCodeInput(code string) (string, error) {
	code = normalizeCode(code)
	if code == "" {
		return "", Errorf(KindInvalid, "enter the code the caller reads to you")
	}
	if !isDigits(code, len(code)) || len(code) > 16 {
		return "", Errorf(KindInvalid, "a code is digits only; ask the caller to read it again (nothing was counted)")
	}
	return code, nil
}

// openCodeCheck locks the verification for the technician and checks that
// it is answered with a code of code's length, before anything is
// counted. It returns the verification, its policy and the technician as
// audit actor.
func (e *Engine) openCodeCheck(ctx context.Context, tx Tx, tenantID, techID, verificationID, code string) (Verification, Policy, string, error) {
	v, tech, err := e.lockForTechnician(ctx, tx, tenantID, techID, verificationID)
	if err != nil {
		return Verification{}, Policy{}, "", err
	}
	p, ok := e.providers[v.Method]
	if !ok || p.Secret() != SecretCode {
		return Verification{}, Policy{}, "", Errorf(KindInvalid, "%s is answered by the end user on the link page, not with a code", v.Method)
	}
	policy, err := EffectivePolicy(ctx, tx, tenantID, v.ClientID)
	if err != nil {
		return Verification{}, Policy{}, "", err
	}
	if len(code) != policy.CodeDigits {
		return Verification{}, Policy{}, "", Errorf(KindInvalid, "the code has %d digits, not %d; ask the caller to read it again (nothing was counted)", policy.CodeDigits, len(code))
	}
	return v, policy, techActor(tech.ID), nil
}

// decideCode decides a code for v, locked: outcome is what the technician
// is told, evType the event v's change makes. The transaction commits
// either way, so that failures are counted.
func (e *Engine) decideCode(ctx context.Context, tx Tx, policy Policy, v *Verification, actor, code string, now time.Time) (evType EventType, outcome, err error) {
	switch st := v.EffectiveStatus(now); {
	case st == StatusExpired && v.Status.Open():
		v.Status, v.CompletedAt, v.Detail = StatusExpired, now, "code expired before it was entered"
		evType, outcome = EventVerificationExpired, Errorf(KindGone, "the code has expired: send a new code")
	case st == StatusVerified:
		// A repeat of the right code (a double submit, a second
		// technician) or any code after success is not a guess at an
		// open secret: counting it would lock the contact's channel
		// while the shield is green.
		return "", Errorf(KindGone, "this verification is already verified; nothing was counted"), nil
	case !st.Open():
		outcome = Errorf(KindGone, "this verification is already %s", st)
		return "", outcome, e.countFailure(ctx, tx, policy, *v, actor, "submitted after "+string(st), now)
	case hmac.Equal(codeHash(e.cfg.CodeKey, v.ID, string(v.Method), code), v.SecretHash):
		if err := e.markVerified(ctx, tx, policy, v, actor, now, &evType); err != nil {
			return evType, nil, err
		}
		if v.Status != StatusVerified {
			outcome = Errorf(KindAssuranceTooLow, "%s", v.Detail)
		}
		return evType, outcome, nil
	default:
		v.Attempts++
		left := v.MaxAttempts - v.Attempts
		if left <= 0 {
			v.Status, v.CompletedAt, v.Detail = StatusFailed, now, "too many wrong codes"
			evType, outcome = EventVerificationFailed, Errorf(KindGone, "wrong code, and that was the last attempt: the caller is not verified; send a new code or try another method")
		} else {
			evType, outcome = EventVerificationAttempt, Errorf(KindInvalid, "wrong code: ask the caller to read it again (%s left)", plural(left, "attempt"))
		}
	}
	if err := tx.UpdateVerification(ctx, v); err != nil {
		return evType, outcome, err
	}
	if err := e.queueOutcome(ctx, tx, *v, now); err != nil {
		return evType, outcome, err
	}
	return evType, outcome, e.countFailure(ctx, tx, policy, *v, actor, string(evType), now)
}

// markVerified completes v successfully and resets the consecutive-failure
// counter of its channel (NIST §3.2.2), ending the locks of the contact's
// other channels (security.md §1.2) — unless v's method is below what
// the policy now requires for v's purpose (it was tightened after the
// start): then v ends failed, says why, and counts against no one, since
// the caller did answer. Callers check v.Status afterwards.
func (e *Engine) markVerified(ctx context.Context, tx Tx, policy Policy, v *Verification, actor string, now time.Time, evType *EventType) error {
	if err := policy.checkVerification(*v, v.Purpose); err != nil {
		v.Status, v.CompletedAt = StatusFailed, now
		v.Detail = "answered, but not verified: " + ErrorMessage(err)
		if err := tx.UpdateVerification(ctx, v); err != nil {
			return err
		}
		if err := e.queueOutcome(ctx, tx, *v, now); err != nil {
			return err
		}
		*evType = EventVerificationFailed
		return e.audit(ctx, tx, v.TenantID, actor, AuditAssuranceTooLow, v.ID,
			map[string]string{"method": string(v.Method), "purpose": string(v.Purpose), "level": string(v.AssuranceLevel()),
				"required": string(policy.RequiredAssurance(v.Purpose))})
	}
	v.Status, v.CompletedAt = StatusVerified, now
	v.VerifiedUntil = now.Add(policy.ShieldDuration.D())
	v.Detail = "verified by " + string(v.Method)
	if err := tx.UpdateVerification(ctx, v); err != nil {
		return err
	}
	if err := e.queueOutcome(ctx, tx, *v, now); err != nil {
		return err
	}
	// The same statement ends the locks of the contact's other channels
	// (security.md §1.2: locked until a success on another channel).
	if err := tx.ClearFailures(ctx, v.TenantID, v.ContactID, v.DestKind, policy.FailureCap, now); err != nil {
		return err
	}
	*evType = EventVerificationVerified
	return e.audit(ctx, tx, v.TenantID, actor, string(EventVerificationVerified), v.ID,
		map[string]string{"method": string(v.Method), "verified_until": v.VerifiedUntil.Format(time.RFC3339)})
}

// countFailure adds one to the contact's consecutive failures on v's channel
// and audits why.
func (e *Engine) countFailure(ctx context.Context, tx Tx, policy Policy, v Verification, actor, why string, now time.Time) error {
	// One statement adds it (not a read and a write of the sum): a
	// success on another channel committed meanwhile, which may have
	// ended this channel's lock, is not undone.
	n, err := tx.AddFailure(ctx, v.TenantID, v.ContactID, v.DestKind, now)
	if err != nil {
		return err
	}
	return e.audit(ctx, tx, v.TenantID, actor, AuditVerificationFailedAttempt, v.ID,
		map[string]string{"reason": why, "attempts": fmt.Sprint(v.Attempts), "consecutive_failures": fmt.Sprint(n)})
}

// finish publishes and measures the outcome of a committed change.
func (e *Engine) finish(ctx context.Context, v Verification, t EventType) {
	if t == "" {
		return
	}
	switch t {
	case EventVerificationVerified:
		e.observe(v.Method, "verified")
	case EventVerificationFailed:
		e.observe(v.Method, "failed")
	case EventVerificationExpired:
		e.observe(v.Method, "expired")
	case EventVerificationCancelled:
		e.observe(v.Method, "cancelled")
	}
	if v.IntegrationID != "" && !v.Status.Open() {
		e.Wake() // a ticket note waits in the outbox
	}
	e.publish(ctx, e.event(t, v))
}

// Cancel ends an open verification; its secret stops working at once.
func (e *Engine) Cancel(ctx context.Context, tenantID, techID, verificationID string) (Verification, error) {
	var v Verification
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		var tech Technician
		var err error
		v, tech, err = e.lockForTechnician(ctx, tx, tenantID, techID, verificationID)
		if err != nil {
			return err
		}
		if !v.Status.Open() {
			return Errorf(KindConflict, "this verification is already %s", v.Status)
		}
		v.Status, v.CompletedAt, v.Detail = StatusCancelled, now, "cancelled by technician"
		if err := tx.UpdateVerification(ctx, &v); err != nil {
			return err
		}
		if err := e.queueOutcome(ctx, tx, v, now); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, techActor(tech.ID), string(EventVerificationCancelled), v.ID, nil)
	})
	if err != nil {
		return Verification{}, err
	}
	e.finish(ctx, v, EventVerificationCancelled)
	return v, nil
}

// Verification returns one verification of a tenant with its effective status.
func (e *Engine) Verification(ctx context.Context, tenantID, id string) (Verification, error) {
	var v Verification
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		v, err = tx.Verification(ctx, tenantID, id)
		return err
	})
	v.Status = v.EffectiveStatus(e.Now())
	return v, err
}

// History returns a contact's latest verifications, as many as the policy's
// history length, with effective statuses.
func (e *Engine) History(ctx context.Context, tenantID, contactID string) ([]Verification, error) {
	vs, _, err := e.history(ctx, tenantID, contactID, nil)
	return vs, err
}

// CardHistory is History with, in the same transaction, when each of the
// contact's destinations was last verified (by destination id; absent when
// never), however far back: the card shows it per phone and e-mail.
//
// It also returns the opt-in state of the contact's mobile (issue 18
// item 4), read in the same transaction.
func (e *Engine) CardHistory(ctx context.Context, tenantID, contactID string) ([]Verification, map[string]time.Time, OptInState, error) {
	card, err := e.ContactCard(ctx, tenantID, contactID)
	return card.History, card.LastVerified, card.OptIn, err
}

// ContactCard is what the console's contact card shows of a contact,
// read in one transaction.
type ContactCard struct {
	Contact Contact
	// History is CardHistory's, with effective statuses.
	History []Verification
	// LastVerified is when each destination was last verified, by id.
	LastVerified map[string]time.Time
	OptIn        OptInState
	// Policy is the contact's effective policy.
	Policy Policy
}

// ContactCard reads a contact's card: the contact, its history, when each
// destination was last verified, its mobile's opt-in state and its
// effective policy, in one transaction (the card made three apart: the
// contact, CardHistory, the policy).
func (e *Engine) ContactCard(ctx context.Context, tenantID, contactID string) (ContactCard, error) {
	var card ContactCard
	_, _, err := e.history(ctx, tenantID, contactID, &card)
	return card, err
}

// history reads a contact's history; with card (the card) also the
// contact, its policy, when each destination was last verified and the
// opt-in state of its mobile, into card.
func (e *Engine) history(ctx context.Context, tenantID, contactID string, card *ContactCard) ([]Verification, map[string]time.Time, error) {
	withLast := card != nil
	var (
		vs   []Verification
		last map[string]time.Time
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		c, err := tx.Contact(ctx, tenantID, contactID)
		if err != nil {
			return err
		}
		p, err := EffectivePolicy(ctx, tx, tenantID, c.ClientID)
		if err != nil {
			return err
		}
		if vs, err = tx.ListVerifications(ctx, tenantID, contactID, p.HistoryLength); err != nil || !withLast {
			return err
		}
		if last, err = tx.LastVerified(ctx, tenantID, contactID); err != nil {
			return err
		}
		states, err := optInStates(ctx, tx, tenantID, []Contact{c})
		card.Contact, card.Policy, card.LastVerified, card.OptIn = c, p, last, states[c.ID]
		return err
	})
	now := e.Now()
	for i := range vs {
		vs[i].Status = vs[i].EffectiveStatus(now)
	}
	if card != nil {
		card.History = vs
	}
	return vs, last, err
}

// Recent is how far back the console's empty card looks for the tenant's
// latest verifications, and how many it shows.
const (
	RecentWindow = 7 * 24 * time.Hour
	RecentLimit  = 10
)

// RecentVerifications returns the tenant's latest verifications, whatever
// the contact (RecentWindow, at most RecentLimit, newest first, with
// effective statuses), and their contacts by id, read in one transaction:
// what the console shows before a contact is chosen — who was verified or
// failed lately, and who is still being waited for (issue 12). A
// verification whose contact is gone is left out.
func (e *Engine) RecentVerifications(ctx context.Context, tenantID string) ([]Verification, map[string]Contact, error) {
	now := e.Now()
	var (
		out      []Verification
		contacts = map[string]Contact{}
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		vs, err := tx.RecentVerifications(ctx, tenantID, now.Add(-RecentWindow), RecentLimit)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if _, ok := contacts[v.ContactID]; !ok {
				c, err := tx.Contact(ctx, tenantID, v.ContactID)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				contacts[v.ContactID] = c
			}
			v.Status = v.EffectiveStatus(now)
			out = append(out, v)
		}
		return nil
	})
	return out, contacts, err
}

// Shields returns the shield of each of contactIDs (a page of the contact
// list) in one read, whatever their number; a contact with no closed
// verification is grey.
func (e *Engine) Shields(ctx context.Context, tenantID string, contactIDs []string) (map[string]Shield, error) {
	now := e.Now()
	last, err := view(ctx, e, func(tx Tx) (map[string]Verification, error) {
		return tx.ShieldVerifications(ctx, tenantID, contactIDs, now)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Shield, len(contactIDs))
	for _, id := range contactIDs {
		var history []Verification
		if v, ok := last[id]; ok {
			history = []Verification{v}
		}
		out[id] = ShieldFor(history, now)
	}
	return out, nil
}

// ShieldState is the colour of a contact's shield.
type ShieldState string

// Shield states: green while a success is within the shield duration, red
// after the latest attempt failed or was denied, grey otherwise.
const (
	ShieldGreen ShieldState = "green"
	ShieldGrey  ShieldState = "grey"
	ShieldRed   ShieldState = "red"
)

// Shield is a contact's verification state at a glance.
type Shield struct {
	State ShieldState
	// Last is the verification that decided the state; zero for grey with no history.
	Last Verification
}

// ShieldFor computes the shield from a contact's history (newest first).
func ShieldFor(history []Verification, now time.Time) Shield {
	for _, v := range history {
		switch v.EffectiveStatus(now) {
		case StatusVerified:
			if now.Before(v.VerifiedUntil) {
				return Shield{State: ShieldGreen, Last: v}
			}
			return Shield{State: ShieldGrey, Last: v}
		case StatusFailed:
			return Shield{State: ShieldRed, Last: v}
		case StatusPending, StatusSent:
			continue // an open challenge does not change the shield
		default:
			return Shield{State: ShieldGrey, Last: v}
		}
	}
	return Shield{State: ShieldGrey}
}

func joinMethods(ms []Method) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}
