package core

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The tray's "Verify my technician": the Windows user sees which of the
// MSP's technicians are working with them now (CallingTechnicians) and
// answers for one of them — it is them, or it is not the person on the
// phone. "Not the person" is an alert: someone may be using a real
// technician's name. Both answers are audited and written to the
// technician's ticket where one is known.

// TechCheckAnswer is what the user answers about a listed technician.
type TechCheckAnswer string

// The two answers of a tech check.
const (
	TechCheckConfirm      TechCheckAnswer = "confirm"
	TechCheckNotThePerson TechCheckAnswer = "not_the_person"
)

const (
	// techChecksPerHour caps the answers one Windows user gives in an
	// hour, refused ones included, so that a tray cannot probe for
	// technician ids or flood the on-call group.
	techChecksPerHour = 3
	// techCheckWindow is how recently a technician must have started a
	// verification of the user to be "working with them now"; the same
	// window as CallingTechnicians.
	techCheckWindow = time.Hour
	maxTechnicianID = 64
)

// TechCheck is one answer from the tray. SID is the Windows user the
// device's service took from the tray's pipe handle.
type TechCheck struct {
	SID          string
	TechnicianID string
	Answer       TechCheckAnswer
}

// TechCheckResult is what an accepted answer did.
type TechCheckResult struct {
	Technician Technician
	Contact    Contact
	Answer     TechCheckAnswer
	// TicketRef is the ticket the answer is noted on; "" when the
	// technician's verifications named none (or no PSA integration).
	TicketRef string
	// Alerted is how many alert messages were queued (not the person only).
	Alerted int
}

// CheckTechnician records a Windows user's answer about a technician that
// CallingTechnicians listed for them. Only a bound user seen on device d
// may answer, only for a technician who started a verification of their
// contact in the last hour; anything else reads as not found. At most
// techChecksPerHour answers per user an hour are taken; beyond that the
// answer is refused (KindRateLimited) and audited.
func (e *Engine) CheckTechnician(ctx context.Context, d Device, c TechCheck) (TechCheckResult, error) {
	c.TechnicianID = strings.TrimSpace(c.TechnicianID)
	if err := checkTechCheckInput(c); err != nil {
		return TechCheckResult{}, err
	}
	var tc *techCheckTx
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		tc = &techCheckTx{e: e, tx: tx, d: d, c: c, now: e.Now(), actor: deviceActor(d.ID),
			detail: map[string]string{"device": d.ID, "technician": c.TechnicianID, "answer": string(c.Answer)}}
		return tc.run(ctx)
	})
	if err != nil {
		return TechCheckResult{}, err
	}
	if tc.outcome != nil {
		return TechCheckResult{}, tc.outcome
	}
	if tc.queued {
		e.Wake()
	}
	// The technician's open cards (console and pods) hear the answer at
	// once; no other technician's do.
	res := tc.res
	e.publish(ctx, Event{Type: EventTechCheckAnswered, TenantID: d.TenantID, TechnicianID: res.Technician.ID,
		ContactID: res.Contact.ID, TicketRef: res.TicketRef, Answer: res.Answer, Reason: tc.told, At: e.Now()})
	return res, nil
}

// techCheckToldText is what the technician's card says of the answer.
func techCheckToldText(a TechCheckAnswer, who, device, when string) string {
	if a == TechCheckNotThePerson {
		return fmt.Sprintf("%s said from the Countersign tray on %s (%s) that you are NOT the person on the phone with them. "+
			"The MSP was alerted; treat the caller as not verified.", who, device, when)
	}
	return fmt.Sprintf("%s confirmed from the Countersign tray on %s (%s) that you are the technician working with them.", who, device, when)
}

// checkTechCheckInput refuses a malformed answer before any transaction,
// so that nothing about it is read or audited.
func checkTechCheckInput(c TechCheck) error {
	switch {
	case !ValidSID(c.SID):
		return Errorf(KindInvalid, "%q is not a Windows SID", c.SID)
	case c.Answer != TechCheckConfirm && c.Answer != TechCheckNotThePerson:
		return Errorf(KindInvalid, "answer must be %q or %q", TechCheckConfirm, TechCheckNotThePerson)
	case c.TechnicianID == "" || len(c.TechnicianID) > maxTechnicianID:
		return Errorf(KindInvalid, "name the technician the answer is about")
	}
	return nil
}

// techCheckTx is one CheckTechnician answer inside its transaction: the
// steps share the audit detail they add to, and leave the refusal
// (outcome), the result and whether anything was queued for the caller.
type techCheckTx struct {
	e      *Engine
	tx     Tx
	d      Device
	c      TechCheck
	now    time.Time
	actor  string
	detail map[string]string

	res     TechCheckResult
	outcome error
	queued  bool
	told    string // the words the technician's card shows
}

// run takes the steps in order; each refusal is audited and ends the
// answer without an error, so the transaction commits the audit.
func (tc *techCheckTx) run(ctx context.Context) error {
	contact, ok, err := tc.boundContact(ctx)
	if err != nil || !ok {
		return err
	}
	// Serialise the user's answers, so that the count in rateLimited holds
	// under concurrent requests on PostgreSQL too.
	if _, err := tc.tx.LockOpenVerifications(ctx, tc.d.TenantID, contact.ID); err != nil {
		return err
	}
	if limited, err := tc.rateLimited(ctx); err != nil || limited {
		return err
	}
	theirs, err := tc.technicianVerifications(ctx, contact)
	if err != nil {
		return err
	}
	if len(theirs) == 0 {
		return tc.refuse(ctx, Errorf(KindNotFound, "that technician is not working with you now"), "technician not working with the user")
	}
	tech, err := tc.tx.Technician(ctx, tc.d.TenantID, tc.c.TechnicianID)
	if err != nil {
		return err
	}
	tc.res = TechCheckResult{Technician: tech, Contact: contact, Answer: tc.c.Answer}
	return tc.record(ctx, contact, tech, theirs)
}

// refuse audits a refused answer with its reason and keeps err for the
// caller.
func (tc *techCheckTx) refuse(ctx context.Context, err error, reason string) error {
	tc.outcome, tc.detail["reason"] = err, reason
	return tc.e.audit(ctx, tc.tx, tc.d.TenantID, tc.actor, AuditTechCheckRefused, tc.c.SID, tc.detail)
}

// boundContact returns the contact the Windows user is bound to, and
// false (refused and audited) when the user was not seen on the device or
// is not bound: only a bound user of this computer may answer.
func (tc *techCheckTx) boundContact(ctx context.Context) (Contact, bool, error) {
	d, sid := tc.d, tc.c.SID
	if !tc.e.seenOn(ctx, tc.tx, d, sid) {
		return Contact{}, false, tc.refuse(ctx, Errorf(KindNotFound, "this Windows user has not been reported by the agent on this computer"), "user not seen on the device")
	}
	b, err := tc.tx.Binding(ctx, d.TenantID, d.ClientID, sid)
	if err != nil && !isNotFound(err) {
		return Contact{}, false, err
	}
	if err != nil || b.State != BindingConfirmed {
		return Contact{}, false, tc.refuse(ctx, Errorf(KindNotFound, "you are not bound to a contact yet: use Login / Register first"), "user not bound")
	}
	contact, err := tc.tx.Contact(ctx, d.TenantID, b.ContactID)
	return contact, err == nil, err
}

// rateLimited counts the user's answers of the last hour (every kind, the
// refused ones too) and, at techChecksPerHour, refuses this one with the
// time until the oldest leaves the hour, audited as rate-limited.
func (tc *techCheckTx) rateLimited(ctx context.Context) (bool, error) {
	var answered []time.Time
	for _, action := range []string{AuditTechCheckConfirmed, AuditTechCheckNotThePerson, AuditTechCheckRefused} {
		evs, err := tc.tx.AuditEvents(ctx, tc.d.TenantID, AuditQuery{Action: action, Subject: tc.c.SID, Since: tc.now.Add(-time.Hour)})
		if err != nil {
			return false, err
		}
		for _, ev := range evs {
			answered = append(answered, ev.At)
		}
	}
	n := len(answered)
	if n < techChecksPerHour {
		return false, nil
	}
	// The next answer is taken when the oldest counted one leaves the hour.
	slices.SortFunc(answered, time.Time.Compare)
	tc.outcome = WithRetryAfter(Errorf(KindRateLimited, "you have checked technicians %d times in the last hour (the limit). If someone on the phone says "+
		"they are from your IT provider and you are not sure, hang up and call your IT provider's usual number", n),
		max(answered[n-techChecksPerHour].Add(time.Hour).Sub(tc.now), time.Second))
	tc.detail["answers_last_hour"] = fmt.Sprint(n)
	return true, tc.e.audit(ctx, tc.tx, tc.d.TenantID, tc.actor, AuditTechCheckRateLimited, tc.c.SID, tc.detail)
}

// technicianVerifications returns the technician's verifications of the
// contact in the window, newest first; none means they are not working
// with the user (or are unknown, or another tenant's: the same answer).
func (tc *techCheckTx) technicianVerifications(ctx context.Context, contact Contact) ([]Verification, error) {
	vs, err := tc.tx.ListVerifications(ctx, tc.d.TenantID, contact.ID, 50)
	if err != nil {
		return nil, err
	}
	var theirs []Verification
	for _, v := range vs {
		if v.TechnicianID == tc.c.TechnicianID && !StartedBySystem(v) && !v.CreatedAt.Before(tc.now.Add(-techCheckWindow)) {
			theirs = append(theirs, v)
		}
	}
	return theirs, nil
}

// record audits the accepted answer, notes it on the newest of the
// verifications' tickets and, for "not the person", alerts on-call or
// the admins: in that order, in the answer's transaction.
func (tc *techCheckTx) record(ctx context.Context, contact Contact, tech Technician, theirs []Verification) error {
	d, tx := tc.d, tc.tx
	var ticket Verification
	for _, v := range theirs {
		if v.TicketRef != "" {
			ticket = v
			break
		}
	}
	tc.detail["contact"] = contact.ID
	if ticket.TicketRef != "" {
		tc.detail["ticket"] = ticket.TicketRef
	}
	action := AuditTechCheckConfirmed
	if tc.c.Answer == TechCheckNotThePerson {
		action = AuditTechCheckNotThePerson
	}
	if err := tc.e.audit(ctx, tx, d.TenantID, tc.actor, action, tc.c.SID, tc.detail); err != nil {
		return err
	}
	loc, err := tenantLocation(ctx, tx, d.TenantID)
	if err != nil {
		return err
	}
	who := contact.Name()
	if cl, err := tx.Client(ctx, d.TenantID, contact.ClientID); err == nil {
		who += " (" + cl.Name + ")"
	}
	when := FormatStamp(tc.now, loc)
	tc.told = techCheckToldText(tc.c.Answer, who, d.Name, when)
	if ticket.IntegrationID != "" {
		if err := tc.e.queueTechCheckNote(ctx, tx, ticket, techCheckNoteText(tc.c.Answer, who, tech.Name, d.Name, when), tc.now); err != nil {
			return err
		}
		tc.res.TicketRef, tc.queued = ticket.TicketRef, true
	}
	if tc.c.Answer != TechCheckNotThePerson {
		return nil
	}
	return tc.alertNotThePerson(ctx, contact, tech, ticket.TicketRef, who, when)
}

// alertNotThePerson tells on-call (or the admins) that the user said the
// technician on the phone is not who they claim: someone may be using
// the technician's name.
func (tc *techCheckTx) alertNotThePerson(ctx context.Context, contact Contact, tech Technician, ticketRef, who, when string) error {
	on := ""
	if ticketRef != "" {
		on = " on ticket " + ticketRef
	}
	text := fmt.Sprintf("Countersign alert: %s said from the Countersign tray on %s at %s that %s, who is working with them%s, "+
		"is NOT the person on the phone with them. Someone may be using your technician's name.", who, tc.d.Name, when, tech.Name, on)
	var err error
	tc.res.Alerted, err = tc.e.alertOnCallOrAdmins(ctx, tc.tx, tc.d.TenantID, NotifyNotMe, tc.c.SID, NotifyMessage{
		Subject: "Countersign alert: " + contact.Name() + " says the caller is not " + tech.Name, Text: text,
		Say: "Countersign alert. " + contact.Name() + " says the person on the phone with them is not " + tech.Name + "."}, tc.now)
	tc.queued = tc.queued || tc.res.Alerted > 0
	return err
}

// techCheckNoteText is the note on the technician's ticket.
func techCheckNoteText(a TechCheckAnswer, who, tech, device, when string) string {
	if a == TechCheckNotThePerson {
		return fmt.Sprintf("Countersign: %s answered \"Verify my technician\" on %s (%s): %s is NOT the person on the phone with them. "+
			"Treat the caller as NOT verified; the on-call group was alerted.", who, device, when, tech)
	}
	return fmt.Sprintf("Countersign: %s answered \"Verify my technician\" on %s (%s): %s IS the technician working with them.",
		who, device, when, tech)
}

// queueTechCheckNote queues text as a note on v's ticket.
func (e *Engine) queueTechCheckNote(ctx context.Context, tx Tx, v Verification, text string, now time.Time) error {
	msg := Outbound{Kind: OutboxTicketNote, To: v.TicketRef, Tenant: v.TenantID, Integration: v.IntegrationID, Text: text}
	item := OutboxItem{ID: NewID("obx"), TenantID: v.TenantID, Kind: OutboxTicketNote, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.Senders[OutboxTicketNote] == nil}
	return e.sealAndEnqueue(ctx, tx, &item, msg, 0)
}
