package core

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// The workstation prompt: a verification method whose challenge is shown
// by the agent's tray on the workstation where the contact's Windows user
// is logged on. The tray shows three numbers; the technician reads out the
// right one (number matching, security.md §4) and the user picks it, or
// presses "This is not me", which fails the verification and alerts the
// MSP.
const (
	MethodWorkstationPrompt Method          = "workstation_prompt"
	DestWorkstation         DestinationKind = "workstation"
)

// Push-style limits for prompts (security.md §4): one outstanding prompt
// per end user, 3 per 15 minutes and 10 per 24 hours since the last
// successful verification, and none for 24 hours after "This is not me".
const (
	promptShortWindow = 15 * time.Minute
	promptShortLimit  = 3
	promptDayLimit    = 10
	promptDeniedBlock = 24 * time.Hour
	promptChoices     = 3
	// promptMaxLifetime caps a prompt's life below the policy's code
	// lifetime: the technician is on the phone, waiting for it.
	promptMaxLifetime = 2 * time.Minute
)

// PromptRequest asks for a workstation prompt. TenantID and TechnicianID
// come from the authenticated technician.
type PromptRequest struct {
	TenantID      string
	TechnicianID  string
	ContactID     string
	TicketRef     string
	IntegrationID string
	Note          string
	// Purpose is why (PurposeReset before a password or MFA reset).
	Purpose Purpose
}

// PromptTask is the payload of a TaskPrompt: what the tray shows.
type PromptTask struct {
	VerificationID string    `json:"verification_id"`
	TechnicianName string    `json:"technician_name"`
	MSPName        string    `json:"msp_name"`
	TicketRef      string    `json:"ticket_ref,omitempty"`
	Choices        []string  `json:"choices"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// NotifyTask is the payload of a TaskNotify.
type NotifyTask struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// StartPrompt sends a workstation prompt to the device where the contact's
// bound Windows user is logged on. The returned Started.TechCode is the
// number the technician reads to the caller.
func (e *Engine) StartPrompt(ctx context.Context, req PromptRequest) (Started, error) {
	if err := checkPromptRequest(&req); err != nil {
		return Started{}, err
	}
	choices, correct, err := promptNumbers(e.cfg.Rand)
	if err != nil {
		return Started{}, err
	}
	var (
		out    Started
		device Device
	)
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		out, device, err = e.openPrompt(ctx, tx, req, choices, correct)
		return err
	})
	if err != nil {
		return Started{}, err
	}
	e.agents.wake(device.ID)
	e.observe(MethodWorkstationPrompt, "started")
	e.publish(ctx, e.event(EventVerificationStarted, out.Verification), e.event(EventVerificationSent, out.Verification))
	return out, nil
}

// checkPromptRequest tidies req and checks what needs no reading.
func checkPromptRequest(req *PromptRequest) error {
	req.Note = strings.TrimSpace(req.Note)
	req.TicketRef = strings.TrimSpace(req.TicketRef)
	if err := checkPurpose(req.Purpose); err != nil {
		return err
	}
	switch {
	case req.ContactID == "":
		return Errorf(KindInvalid, "contact is required")
	case utf8.RuneCountInString(req.Note) > maxNoteLen:
		return Errorf(KindInvalid, "note must be at most %d characters", maxNoteLen)
	case utf8.RuneCountInString(req.TicketRef) > maxTicketRefLen:
		return Errorf(KindInvalid, "ticket reference must be at most %d characters", maxTicketRefLen)
	case req.IntegrationID != "" && req.TicketRef == "":
		return Errorf(KindInvalid, "an integration is given without a ticket")
	}
	return nil
}

// openPrompt is StartPrompt's transaction: it checks the policy, finds
// the workstation, applies the limits, and records the verification (sent:
// the prompt goes out as the agent's task, queued here) with its audit.
// It returns the verification with the number the technician reads, and
// the device prompted.
func (e *Engine) openPrompt(ctx context.Context, tx Tx, req PromptRequest, choices []string, correct string) (Started, Device, error) {
	now := e.Now()
	tenant, err := tx.Tenant(ctx, req.TenantID)
	if err != nil {
		return Started{}, Device{}, err
	}
	// A prompt request names its parties as a push request does.
	p, err := readPushParties(ctx, tx, PushRequest(req), MethodWorkstationPrompt)
	if err != nil {
		return Started{}, Device{}, err
	}
	device, sid, err := e.promptTarget(ctx, tx, p.contact, now)
	if err != nil {
		return Started{}, Device{}, err
	}
	if err := e.checkFailureCap(ctx, tx, p.policy, req.TenantID, p.contact.ID, DestWorkstation); err != nil {
		return Started{}, Device{}, err
	}
	if err := e.checkPromptLimits(ctx, tx, req.TenantID, p.contact.ID, now); err != nil {
		return Started{}, Device{}, err
	}
	v := Verification{
		ID: NewID("ver"), TenantID: req.TenantID, ClientID: p.contact.ClientID, ContactID: p.contact.ID,
		DestinationID: device.ID, DestKind: DestWorkstation, Destination: sid,
		Method: MethodWorkstationPrompt, TicketRef: req.TicketRef, IntegrationID: req.IntegrationID, Purpose: req.Purpose,
		TechnicianID: p.tech.ID, Status: StatusSent, MaxAttempts: 1, Note: req.Note, CreatedAt: now,
		Sends: 1, SentAt: now, ExpiresAt: now.Add(min(p.policy.Lifetime.D(), promptMaxLifetime)),
		Detail: "prompt shown on " + device.Name,
	}
	v.SecretHash = codeHash(e.cfg.CodeKey, v.ID, string(v.Method), correct)
	if err := tx.CreateVerification(ctx, &v); err != nil {
		return Started{}, Device{}, err
	}
	task := PromptTask{VerificationID: v.ID, TechnicianName: p.tech.Name, MSPName: tenant.DisplayName(),
		TicketRef: v.TicketRef, Choices: choices, ExpiresAt: v.ExpiresAt}
	if err := e.queuePromptTask(ctx, tx, v, sid, task, now); err != nil {
		return Started{}, Device{}, err
	}
	detail := map[string]string{"method": string(v.Method), "device": device.ID, "sid": sid, "contact": p.contact.ID}
	if v.TicketRef != "" {
		detail["ticket"] = v.TicketRef
	}
	if v.Note != "" {
		detail["note"] = v.Note
	}
	if err := e.audit(ctx, tx, req.TenantID, techActor(p.tech.ID), string(EventVerificationStarted), v.ID, detail); err != nil {
		return Started{}, Device{}, err
	}
	return Started{Verification: v, TechCode: correct}, device, nil
}

// queuePromptTask queues the prompt for v's device, as the agent of the
// user sid fetches it.
func (e *Engine) queuePromptTask(ctx context.Context, tx Tx, v Verification, sid string, task PromptTask, now time.Time) error {
	payload, err := json.Marshal(task)
	if err != nil {
		return err
	}
	return e.queueTask(ctx, tx, &AgentTask{ID: NewID("tsk"), TenantID: v.TenantID, DeviceID: v.DestinationID, SID: sid,
		Kind: TaskPrompt, Payload: payload, CreatedAt: now, ExpiresAt: v.ExpiresAt})
}

// promptTarget finds the device and SID to prompt for a contact: a
// confirmed binding of the contact whose user is logged on to an online,
// unrevoked device of the binding's client.
func (e *Engine) promptTarget(ctx context.Context, tx Tx, c Contact, now time.Time) (Device, string, error) {
	bindings, err := tx.BindingsOfContact(ctx, c.TenantID, c.ID)
	if err != nil {
		return Device{}, "", err
	}
	if len(bindings) == 0 {
		return Device{}, "", Errorf(KindInvalid, "%s has no Windows user bound to them; bind one on the Agents page first", c.Name())
	}
	for _, b := range bindings {
		seen, err := tx.DevicesOfSID(ctx, c.TenantID, b.SID)
		if err != nil {
			return Device{}, "", err
		}
		for _, u := range seen {
			if !u.LoggedOn {
				continue
			}
			d, err := tx.Device(ctx, c.TenantID, u.DeviceID)
			if err != nil {
				return Device{}, "", err
			}
			if d.ClientID == b.ClientID && d.Online(now) {
				return d, b.SID, nil
			}
		}
	}
	return Device{}, "", Errorf(KindInvalid, "%s is not logged on to an online workstation with the agent; use another method", c.Name())
}

// checkPromptLimits applies security.md §4 to workstation prompts.
func (e *Engine) checkPromptLimits(ctx context.Context, tx Tx, tenantID, contactID string, now time.Time) error {
	history, err := tx.ListVerifications(ctx, tenantID, contactID, 100)
	if err != nil {
		return err
	}
	// Counters reset after a successful verification (of any method).
	var lastSuccess time.Time
	for _, v := range history {
		if v.Status == StatusVerified && v.CompletedAt.After(lastSuccess) {
			lastSuccess = v.CompletedAt
		}
	}
	short, day := 0, 0
	for _, v := range history {
		if v.Method != MethodWorkstationPrompt || v.Status == StatusVerified {
			continue
		}
		age := now.Sub(v.CreatedAt)
		if v.EffectiveStatus(now).Open() {
			return Errorf(KindConflict, "a workstation prompt is already waiting for this user; wait for it to be answered or to expire")
		}
		if v.Status == StatusFailed && strings.HasPrefix(v.Detail, promptDeniedDetail) && age < promptDeniedBlock {
			return Errorf(KindForbidden, "the user pressed \"This is not me\" on a prompt %s ago; prompts to them are stopped for 24 hours (an admin can verify another way)", age.Round(time.Minute))
		}
		if v.CreatedAt.Before(lastSuccess) {
			continue
		}
		if age < promptShortWindow {
			short++
		}
		if age < 24*time.Hour {
			day++
		}
	}
	switch {
	case short >= promptShortLimit:
		return Errorf(KindRateLimited, "%d workstation prompts in the last 15 minutes (the limit); wait or use another method", short)
	case day >= promptDayLimit:
		return Errorf(KindRateLimited, "%d workstation prompts in the last 24 hours (the limit); use another method", day)
	}
	return nil
}

// promptNumbers returns three distinct two-digit numbers and the one the
// technician reads out, all from crypto/rand.
func promptNumbers(r io.Reader) ([]string, string, error) {
	seen := map[int64]bool{}
	var out []string
	for len(out) < promptChoices {
		n, err := rand.Int(r, big.NewInt(90))
		if err != nil {
			return nil, "", fmt.Errorf("core: prompt numbers: %w", err)
		}
		v := n.Int64() + 10
		if seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, fmt.Sprint(v))
	}
	i, err := rand.Int(r, big.NewInt(promptChoices))
	if err != nil {
		return nil, "", fmt.Errorf("core: prompt numbers: %w", err)
	}
	return out, out[i.Int64()], nil
}

// promptDeniedDetail starts the detail of a prompt the user denied.
const promptDeniedDetail = "the user at the workstation pressed \"This is not me\""

// PromptAnswer is the user's answer to a prompt, relayed by the device's
// service. SID is the Windows identity the service took from the tray's
// pipe handle.
type PromptAnswer struct {
	VerificationID string
	SID            string
	Choice         string
	NotMe          bool
}

// AnswerPrompt decides a workstation prompt. Only the device and the user
// it was sent to may answer; an answer after expiry, a second answer, or a
// wrong number is refused and audited, and the last two count as failures.
func (e *Engine) AnswerPrompt(ctx context.Context, d Device, a PromptAnswer) (Verification, error) {
	a.Choice = strings.TrimSpace(a.Choice)
	if !a.NotMe && (a.Choice == "" || len(a.Choice) > 8) {
		return Verification{}, Errorf(KindInvalid, "pick one of the numbers, or answer \"This is not me\"")
	}
	var (
		v       Verification
		outcome error
		evType  EventType
		alert   bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		var err error
		v, err = tx.LockVerification(ctx, d.TenantID, a.VerificationID)
		if err != nil {
			return err
		}
		actor := deviceActor(d.ID)
		if v.Method != MethodWorkstationPrompt || v.DestinationID != d.ID || v.Destination != a.SID {
			// Not this device's or this user's prompt: refuse without a hint
			// and leave the verification alone.
			outcome = Errorf(KindNotFound, "no such prompt for this user")
			return e.audit(ctx, tx, d.TenantID, actor, AuditPromptAnswerRefused, v.ID,
				map[string]string{"reason": "answered by another device or user", "sid": a.SID})
		}
		policy, err := EffectivePolicy(ctx, tx, d.TenantID, v.ClientID)
		if err != nil {
			return err
		}
		switch st := v.EffectiveStatus(now); {
		case st == StatusExpired && v.Status.Open():
			v.Status, v.CompletedAt, v.Detail = StatusExpired, now, "the prompt expired before it was answered"
			evType, outcome = EventVerificationExpired, Errorf(KindGone, "this prompt has expired; ask the technician to send a new one")
		case !st.Open():
			outcome = Errorf(KindGone, "this prompt was already answered or has ended")
			return e.countFailure(ctx, tx, policy, v, actor, "answered after "+string(st), now)
		case a.NotMe:
			v.Status, v.CompletedAt, v.Detail = StatusFailed, now, promptDeniedDetail
			evType, alert = EventVerificationFailed, true
		case hmac.Equal(codeHash(e.cfg.CodeKey, v.ID, string(v.Method), a.Choice), v.SecretHash):
			v.Attempts = 0
			return e.markVerified(ctx, tx, policy, &v, actor, now, &evType)
		default:
			v.Attempts++
			v.Status, v.CompletedAt, v.Detail = StatusFailed, now, "the user picked a number the technician did not read out"
			evType, outcome = EventVerificationFailed, Errorf(KindGone, "that is not the number the technician read out; the verification has failed")
		}
		if err := tx.UpdateVerification(ctx, &v); err != nil {
			return err
		}
		if err := e.queueOutcome(ctx, tx, v, now); err != nil {
			return err
		}
		if alert {
			if err := e.queueDeniedAlert(ctx, tx, v, now); err != nil {
				return err
			}
		}
		return e.countFailure(ctx, tx, policy, v, actor, string(evType)+": "+v.Detail, now)
	})
	if err != nil {
		return Verification{}, err
	}
	if alert {
		e.Wake()
	}
	e.finish(ctx, v, evType)
	return v, outcome
}

// queueDeniedAlert e-mails the MSP's notification recipients — its owners
// and admins — that a user denied a prompt: someone may be impersonating
// them on the phone.
//
// When the tenant has notification groups that want NotifyNotMe, only
// their users on call are told (by their own ways); otherwise every owner
// and admin is e-mailed, as before groups existed.
func (e *Engine) queueDeniedAlert(ctx context.Context, tx Tx, v Verification, now time.Time) error {
	contact, err := tx.Contact(ctx, v.TenantID, v.ContactID)
	if err != nil {
		return err
	}
	requester, err := tx.Technician(ctx, v.TenantID, v.TechnicianID)
	if err != nil {
		return err
	}
	ticket := ""
	if v.TicketRef != "" {
		ticket = " on ticket " + v.TicketRef
	}
	loc, err := tenantLocation(ctx, tx, v.TenantID)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Countersign alert: %s pressed \"This is not me\" on a workstation prompt sent by %s%s at %s. "+
		"The caller may not be who they say they are. Prompts to this user are stopped for 24 hours.",
		contact.Name(), requester.Name, ticket, FormatStamp(now, loc))
	subject := "Countersign alert: workstation prompt denied by " + contact.Name()
	if _, err := e.alertOnCallOrAdmins(ctx, tx, v.TenantID, NotifyNotMe, v.ID, NotifyMessage{Subject: subject, Text: text,
		Say: "Countersign alert. " + contact.Name() + " pressed This is not me on a workstation prompt. The caller may not be who they say they are."}, now); err != nil {
		return err
	}
	return e.audit(ctx, tx, v.TenantID, deviceActor(v.DestinationID), AuditPromptDenied, v.ID,
		map[string]string{"contact": v.ContactID, "sid": v.Destination})
}

// CallingTechnicians answers the tray's "Verify my technician": the
// technicians who started a verification of the user's bound contact in the
// last hour, newest first.
func (e *Engine) CallingTechnicians(ctx context.Context, d Device, sid string) ([]Technician, error) {
	_, c, err := e.UserBinding(ctx, d, sid)
	if err != nil {
		return nil, err
	}
	var out []Technician
	err = e.cfg.Store.View(ctx, func(tx Tx) error {
		vs, err := tx.ListVerifications(ctx, d.TenantID, c.ID, 50)
		if err != nil {
			return err
		}
		since := e.Now().Add(-time.Hour)
		seen := map[string]bool{}
		for _, v := range vs {
			if v.CreatedAt.Before(since) || seen[v.TechnicianID] || StartedBySystem(v) {
				continue
			}
			seen[v.TechnicianID] = true
			t, err := tx.Technician(ctx, d.TenantID, v.TechnicianID)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}
