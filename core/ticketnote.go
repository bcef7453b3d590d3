package core

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// methodWords names methods in ticket notes.
var methodWords = map[Method]string{
	MethodSMSCode: "SMS code", MethodSMSLink: "SMS link", MethodVoiceCode: "voice call code",
	MethodEmailLink: "email link", MethodEmailCode: "email code",
	MethodWorkstationPrompt: "workstation prompt",
	MethodDuoPush:           "Duo push",
	MethodMicrosoftPush:     "Microsoft Authenticator push (approve-only)",
}

// queueTicketNote writes v's result to its PSA ticket through the outbox,
// in the transaction that closed v, so that the note cannot be lost: if
// the PSA is down, the outbox keeps retrying until it is back. Verifications
// not started from a PSA ticket, or still open, get no note.
func (e *Engine) queueTicketNote(ctx context.Context, tx Tx, v Verification, now time.Time) error {
	if v.IntegrationID == "" || v.TicketRef == "" || v.Status.Open() {
		return nil
	}
	contact, err := tx.Contact(ctx, v.TenantID, v.ContactID)
	if err != nil {
		return err
	}
	requester := "Countersign, automatically on the new ticket"
	if !StartedBySystem(v) {
		tech, err := tx.Technician(ctx, v.TenantID, v.TechnicianID)
		if err != nil {
			return err
		}
		requester = tech.Name
	}
	loc, err := tenantLocation(ctx, tx, v.TenantID)
	if err != nil {
		return err
	}
	msg := Outbound{Kind: OutboxTicketNote, To: v.TicketRef, Tenant: v.TenantID, Integration: v.IntegrationID,
		Text: ticketNoteText(v, contact.Name(), requester, loc)}
	item := OutboxItem{ID: NewID("obx"), TenantID: v.TenantID, Kind: OutboxTicketNote, VerificationID: v.ID,
		Status: OutboxPending, NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.Senders[OutboxTicketNote] == nil}
	return e.sealAndEnqueue(ctx, tx, &item, msg, 0)
}

// ticketNoteText is the note technicians read on the ticket: who, how, the
// outcome, and when, in the tenant's time zone loc, named (the PSA may
// show another zone beside it).
func ticketNoteText(v Verification, contact, tech string, loc *time.Location) string {
	how := methodWords[v.Method]
	switch {
	case v.Method == MethodDuoPush && v.Level == AssuranceStrong:
		how = verifiedDuoPush + " (code typed by the caller)"
	case how == "":
		how = string(v.Method)
	}
	when := FormatStamp(v.CompletedAt, loc)
	var b strings.Builder
	switch v.Status {
	case StatusVerified:
		fmt.Fprintf(&b, "Countersign: %s was VERIFIED by %s to %s (requested by %s, %s). Valid until %s.",
			contact, how, v.MaskedDestination(), tech, when, FormatStampFrom(v.VerifiedUntil, v.CompletedAt, loc))
	case StatusCancelled:
		fmt.Fprintf(&b, "Countersign: verification of %s by %s to %s was CANCELLED (%s, %s).",
			contact, how, v.MaskedDestination(), tech, when)
	default:
		fmt.Fprintf(&b, "Countersign: verification of %s by %s to %s %s: %s (requested by %s, %s). Treat the caller as NOT verified.",
			contact, how, v.MaskedDestination(), strings.ToUpper(string(v.Status)), v.Detail, tech, when)
	}
	if v.Note != "" {
		fmt.Fprintf(&b, " Technician's note: %s", v.Note)
	}
	return b.String()
}

// NoteState is where the note of a verification on its PSA ticket stands.
type NoteState string

// Note states.
const (
	NoteQueued   NoteState = "queued"   // not tried yet
	NoteWritten  NoteState = "written"  // the PSA accepted it
	NoteDev      NoteState = "dev"      // dev delivery mode: kept in the dev outbox, not sent
	NoteRetrying NoteState = "retrying" // the PSA failed; tried again at NextAttemptAt
	NoteWaiting  NoteState = "waiting"  // the integration is misconfigured; waits for an admin
	NoteFailed   NoteState = "failed"   // given up: the PSA refused it, or too many tries
)

// TicketNote is the state of one verification's ticket note.
type TicketNote struct {
	VerificationID string
	State          NoteState
	// Reason says why the last try failed, in a technician's words; ""
	// when queued or written.
	Reason        string
	Attempts      int
	At            time.Time // queued, or written / given up
	NextAttemptAt time.Time // retrying only
}

// noteOf turns a ticket-note outbox item into its note state.
func noteOf(it OutboxItem) TicketNote {
	n := TicketNote{VerificationID: it.VerificationID, Attempts: it.Attempts, At: it.CreatedAt, Reason: it.Reason}
	switch it.Status {
	case OutboxDone:
		n.State, n.At, n.Reason = NoteWritten, it.DoneAt, ""
		if it.Dev {
			n.State = NoteDev
		}
	case OutboxDead:
		n.State, n.At = NoteFailed, it.DoneAt
	case OutboxWaiting:
		n.State = NoteWaiting
		if n.Reason == "" {
			n.Reason = ChannelMessage(it.Channel)
		}
	default:
		n.State, n.Reason = NoteQueued, ""
		if it.Attempts > 0 {
			n.State, n.Reason, n.NextAttemptAt = NoteRetrying, it.Reason, it.NextAttemptAt
		}
	}
	if (n.State == NoteFailed || n.State == NoteRetrying) && n.Reason == "" {
		n.Reason = "the PSA did not take the note"
	}
	return n
}

// TicketNotes returns the ticket-note state of each of a tenant's
// verifications that has one, by verification id: verifications not
// started from a PSA ticket, or still open, have none.
func (e *Engine) TicketNotes(ctx context.Context, tenantID string, verificationIDs []string) (map[string]TicketNote, error) {
	out := map[string]TicketNote{}
	if len(verificationIDs) == 0 {
		return out, nil
	}
	items, err := view(ctx, e, func(tx Tx) ([]OutboxItem, error) {
		return tx.TicketNoteItems(ctx, tenantID, verificationIDs)
	})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if _, seen := out[it.VerificationID]; !seen { // newest first: one note per verification
			out[it.VerificationID] = noteOf(it)
		}
	}
	return out, nil
}
