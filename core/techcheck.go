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
	switch {
	case !ValidSID(c.SID):
		return TechCheckResult{}, Errorf(KindInvalid, "%q is not a Windows SID", c.SID)
	case c.Answer != TechCheckConfirm && c.Answer != TechCheckNotThePerson:
		return TechCheckResult{}, Errorf(KindInvalid, "answer must be %q or %q", TechCheckConfirm, TechCheckNotThePerson)
	case c.TechnicianID == "" || len(c.TechnicianID) > maxTechnicianID:
		return TechCheckResult{}, Errorf(KindInvalid, "name the technician the answer is about")
	}
	var (
		res     TechCheckResult
		outcome error
		queued  bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		actor := deviceActor(d.ID)
		detail := map[string]string{"device": d.ID, "technician": c.TechnicianID, "answer": string(c.Answer)}
		refuse := func(err error, reason string) error {
			outcome, detail["reason"] = err, reason
			return e.audit(ctx, tx, d.TenantID, actor, AuditTechCheckRefused, c.SID, detail)
		}
		if !e.seenOn(ctx, tx, d, c.SID) {
			return refuse(Errorf(KindNotFound, "this Windows user has not been reported by the agent on this computer"), "user not seen on the device")
		}
		b, err := tx.Binding(ctx, d.TenantID, d.ClientID, c.SID)
		if err != nil && !isNotFound(err) {
			return err
		}
		if err != nil || b.State != BindingConfirmed {
			return refuse(Errorf(KindNotFound, "you are not bound to a contact yet: use Login / Register first"), "user not bound")
		}
		contact, err := tx.Contact(ctx, d.TenantID, b.ContactID)
		if err != nil {
			return err
		}
		// Serialise the user's answers, so that the count below holds
		// under concurrent requests on PostgreSQL too.
		if _, err := tx.LockOpenVerifications(ctx, d.TenantID, contact.ID); err != nil {
			return err
		}
		var answered []time.Time
		for _, action := range []string{AuditTechCheckConfirmed, AuditTechCheckNotThePerson, AuditTechCheckRefused} {
			evs, err := tx.AuditEvents(ctx, d.TenantID, AuditQuery{Action: action, Subject: c.SID, Since: now.Add(-time.Hour)})
			if err != nil {
				return err
			}
			for _, ev := range evs {
				answered = append(answered, ev.At)
			}
		}
		if n := len(answered); n >= techChecksPerHour {
			// The next answer is taken when the oldest counted one leaves
			// the hour.
			slices.SortFunc(answered, time.Time.Compare)
			outcome = WithRetryAfter(Errorf(KindRateLimited, "you have checked technicians %d times in the last hour (the limit). If someone on the phone says "+
				"they are from your IT provider and you are not sure, hang up and call your IT provider's usual number", n),
				max(answered[n-techChecksPerHour].Add(time.Hour).Sub(now), time.Second))
			detail["answers_last_hour"] = fmt.Sprint(n)
			return e.audit(ctx, tx, d.TenantID, actor, AuditTechCheckRateLimited, c.SID, detail)
		}
		// The technician's verifications of this contact in the window,
		// newest first; none means they are not working with the user (or
		// are unknown, or another tenant's: the same answer).
		vs, err := tx.ListVerifications(ctx, d.TenantID, contact.ID, 50)
		if err != nil {
			return err
		}
		var theirs []Verification
		for _, v := range vs {
			if v.TechnicianID == c.TechnicianID && !StartedBySystem(v) && !v.CreatedAt.Before(now.Add(-techCheckWindow)) {
				theirs = append(theirs, v)
			}
		}
		if len(theirs) == 0 {
			return refuse(Errorf(KindNotFound, "that technician is not working with you now"), "technician not working with the user")
		}
		tech, err := tx.Technician(ctx, d.TenantID, c.TechnicianID)
		if err != nil {
			return err
		}
		res = TechCheckResult{Technician: tech, Contact: contact, Answer: c.Answer}
		var ticket Verification
		for _, v := range theirs {
			if v.TicketRef != "" {
				ticket = v
				break
			}
		}
		detail["contact"] = contact.ID
		if ticket.TicketRef != "" {
			detail["ticket"] = ticket.TicketRef
		}
		action := AuditTechCheckConfirmed
		if c.Answer == TechCheckNotThePerson {
			action = AuditTechCheckNotThePerson
		}
		if err := e.audit(ctx, tx, d.TenantID, actor, action, c.SID, detail); err != nil {
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
		when := FormatStamp(now, loc)
		if ticket.IntegrationID != "" {
			if err := e.queueTechCheckNote(ctx, tx, ticket, techCheckNoteText(c.Answer, who, tech.Name, d.Name, when), now); err != nil {
				return err
			}
			res.TicketRef, queued = ticket.TicketRef, true
		}
		if c.Answer != TechCheckNotThePerson {
			return nil
		}
		on := ""
		if ticket.TicketRef != "" {
			on = " on ticket " + ticket.TicketRef
		}
		text := fmt.Sprintf("Countersign alert: %s said from the Countersign tray on %s at %s that %s, who is working with them%s, "+
			"is NOT the person on the phone with them. Someone may be using your technician's name.", who, d.Name, when, tech.Name, on)
		res.Alerted, err = e.alertOnCallOrAdmins(ctx, tx, d.TenantID, NotifyNotMe, c.SID, NotifyMessage{
			Subject: "Countersign alert: " + contact.Name() + " says the caller is not " + tech.Name, Text: text,
			Say: "Countersign alert. " + contact.Name() + " says the person on the phone with them is not " + tech.Name + "."}, now)
		queued = queued || res.Alerted > 0
		return err
	})
	if err != nil {
		return TechCheckResult{}, err
	}
	if outcome != nil {
		return TechCheckResult{}, outcome
	}
	if queued {
		e.Wake()
	}
	return res, nil
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
