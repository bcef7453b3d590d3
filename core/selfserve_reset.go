package core

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// The end-user self-serve reset and unlock page (issue 17.3). A user with
// self-serve active and Registration Complete names their account; a code
// goes by SMS to the mobile on record (never a number typed on the page,
// security.md §6); the user types it back with what they want done. The
// code follows security.md §1: crypto/rand, 6 digits, 5 minutes, one
// success, 5 wrong entries burn it, consecutive failures per user capped,
// stored only as an HMAC keyed outside the database and compared in
// constant time, consumed by one conditional update. The reset or unlock
// is then queued as an agent task for the client's harvester, which does
// it over LDAPS and reports the result; the page shows it. Answers to the
// unauthenticated page never say whether an account exists.

// SelfServeAction is what a user asks the harvester to do.
type SelfServeAction string

// Self-serve actions.
const (
	SelfServeReset  SelfServeAction = "reset"
	SelfServeUnlock SelfServeAction = "unlock"
)

// Agent task kinds of self-serve; the payload is a DirectoryTask.
const (
	TaskDirectoryReset  AgentTaskKind = "directory_reset"
	TaskDirectoryUnlock AgentTaskKind = "directory_unlock"
)

// DirectoryTask is the payload of a directory task as the harvester gets
// it. Password is set for a reset only; in the store the whole payload is
// sealed, and it is wiped once the harvester has fetched it.
type DirectoryTask struct {
	RequestID  string `json:"request_id"`
	GUID       string `json:"guid"`
	Account    string `json:"account"`
	Password   string `json:"password,omitempty"`
	MustChange bool   `json:"must_change,omitempty"`
}

// SelfServeChallenge is a code sent to a user's mobile for the page.
type SelfServeChallenge struct {
	TenantID    string
	ID          string // random, 256 bits: the page holds it
	ClientID    string
	GUID        string
	Destination string // E.164
	CodeHash    []byte
	Attempts    int
	CreatedAt   time.Time
	ExpiresAt   time.Time
	ConsumedAt  time.Time
	RevokedAt   time.Time
}

// SelfServeRequestStatus is where a queued reset or unlock stands.
type SelfServeRequestStatus string

// Request statuses.
const (
	SelfServeQueued SelfServeRequestStatus = "queued"
	SelfServeDone   SelfServeRequestStatus = "done"
	SelfServeFailed SelfServeRequestStatus = "failed"
)

// SelfServeRequest is a reset or unlock a user asked for.
type SelfServeRequest struct {
	TenantID   string
	ID         string // random, 256 bits: the status page's address
	ClientID   string
	GUID       string
	Action     SelfServeAction
	DeviceID   string
	TaskID     string
	Status     SelfServeRequestStatus
	Reason     string // why it failed, safe to show the user
	CreatedAt  time.Time
	ExpiresAt  time.Time // the task's: not fetched by then, it failed
	FinishedAt time.Time
	// VerificationID and TechnicianID are the verification and the
	// technician of a technician's reset or unlock (issue 17.4); "" for
	// the end user's own.
	VerificationID string
	TechnicianID   string
}

// SelfServeResetTx is the part of a transaction that holds the reset page's
// codes, failure counters and requests.
type SelfServeResetTx interface {
	// DirectoryUsersByAccount returns the tenant's directory users whose
	// sAMAccountName or UPN (case-insensitively) or mail is account.
	DirectoryUsersByAccount(ctx context.Context, tenantID, account string) ([]DirectoryUser, error)
	CreateSelfServeChallenge(ctx context.Context, c *SelfServeChallenge) error
	SelfServeChallenge(ctx context.Context, tenantID, id string) (SelfServeChallenge, error)
	// SelfServeChallengesSince returns a user's challenges created at or
	// after since, newest first.
	SelfServeChallengesSince(ctx context.Context, tenantID, clientID, guid string, since time.Time) ([]SelfServeChallenge, error)
	// RevokeSelfServeChallenges revokes a user's open challenges.
	RevokeSelfServeChallenges(ctx context.Context, tenantID, clientID, guid string, at time.Time) error
	// FailSelfServeChallenge counts a wrong entry on a challenge.
	FailSelfServeChallenge(ctx context.Context, tenantID, id string) error
	// ConsumeSelfServeChallenge marks an open, unexpired challenge with
	// fewer than maxAttempts wrong entries consumed; ErrNotFound when it
	// is not (any more).
	ConsumeSelfServeChallenge(ctx context.Context, tenantID, id string, maxAttempts int, at time.Time) error
	// SelfServeFailures returns a user's consecutive failures (0 for none).
	SelfServeFailures(ctx context.Context, tenantID, clientID, guid string) (int, error)
	// SetSelfServeFailures sets them (0 after a success).
	SetSelfServeFailures(ctx context.Context, tenantID, clientID, guid string, n int, at time.Time) error
	// SelfServeLockedOut returns the GUIDs of a client's users with at
	// least atLeast consecutive failures.
	SelfServeLockedOut(ctx context.Context, tenantID, clientID string, atLeast int) ([]string, error)
	CreateSelfServeRequest(ctx context.Context, r *SelfServeRequest) error
	SelfServeRequest(ctx context.Context, tenantID, id string) (SelfServeRequest, error)
	SelfServeRequestByTask(ctx context.Context, tenantID, taskID string) (SelfServeRequest, error)
	// FinishSelfServeRequest sets the outcome of a queued request;
	// ErrNotFound when it is not queued.
	FinishSelfServeRequest(ctx context.Context, tenantID, id string, status SelfServeRequestStatus, reason string, at time.Time) error
	// ClearAgentTaskPayload wipes a delivered task's payload.
	ClearAgentTaskPayload(ctx context.Context, tenantID, id string) error
	// ExpiredSelfServeRequests returns up to limit of a tenant's queued
	// requests whose task expired at or before now without the harvester
	// fetching it, soonest expired first.
	ExpiredSelfServeRequests(ctx context.Context, tenantID string, now time.Time, limit int) ([]SelfServeRequest, error)
	// UnreportedSelfServeRequests returns up to limit of a tenant's
	// queued requests whose task the harvester fetched before
	// deliveredBefore and never reported, soonest expiring first.
	UnreportedSelfServeRequests(ctx context.Context, tenantID string, deliveredBefore time.Time, limit int) ([]SelfServeRequest, error)
	// AmendSelfServeRequest replaces the outcome of a request that failed
	// with fromReason by status and reason (a harvester's report that came
	// after its lease); ErrNotFound when the request is not so (any more).
	AmendSelfServeRequest(ctx context.Context, tenantID, id, fromReason string, status SelfServeRequestStatus, reason string, at time.Time) error
	// DropUndeliveredAgentTask deletes a task (and with it a reset's
	// sealed password) unless it was delivered: ErrConflict when it was,
	// nil when it is gone or there was none.
	DropUndeliveredAgentTask(ctx context.Context, tenantID, id string) error
	// PutPasswordPolicy keeps the domain policy a client's harvester
	// reported; PasswordPolicy returns it, ErrNotFound before the first.
	PutPasswordPolicy(ctx context.Context, p *PasswordPolicy) error
	PasswordPolicy(ctx context.Context, tenantID, clientID string) (PasswordPolicy, error)
}

// PasswordPolicy is the part of a domain's password policy the self-serve
// page checks (minPwdLength, pwdProperties' complexity bit,
// pwdHistoryLength); the domain controller applies all of it anyway.
type PasswordPolicy struct {
	TenantID   string
	ClientID   string
	MinLength  int
	Complexity bool
	History    int
	UpdatedAt  time.Time
}

// defaultPasswordPolicy is assumed until a harvester reports the domain's:
// Active Directory's default domain policy.
var defaultPasswordPolicy = PasswordPolicy{MinLength: 7, Complexity: true, History: 24}

// Limits of the reset page (security.md §1, §6).
const (
	selfServeCodeDigits  = 6
	selfServeCodeTTL     = 5 * time.Minute
	selfServeCodeTries   = 5  // wrong entries that burn one code
	selfServeFailureCap  = 10 // consecutive failures that lock the user out
	selfServeSendsHour   = 5  // codes per user per hour
	selfServeResendAfter = 30 * time.Second
	selfServeTaskTTL     = 10 * time.Minute
	selfServeCodeChannel = "selfserve_sms"
	maxPasswordLen       = 127
	minPasswordLen       = 8
)

// SelfServeStart is what the page shows after a user named their account.
// It is the same whether or not a code was sent.
type SelfServeStart struct {
	Tenant      Tenant
	ChallengeID string
}

// StartSelfServe sends a code to the registered mobile of the account
// named on the tenant's reset page, when that account may use self-serve:
// exactly one user of the tenant has that account name, UPN or e-mail; the
// tenant's and the user's switches are on; e-mail and mobile are known;
// the user has confirmed the mobile (Registration Complete or Accessed
// Self-Serve); the user is not locked out by failures; and the send limits
// allow it. Otherwise nothing is sent and the answer looks the same: a
// challenge ID that no code matches.
func (e *Engine) StartSelfServe(ctx context.Context, slug, account string) (SelfServeStart, error) {
	account = strings.TrimSpace(account)
	if account == "" || len(account) > 256 {
		return SelfServeStart{}, Errorf(KindInvalid, "type your user name or e-mail address")
	}
	t, err := e.TenantBySlug(ctx, slug)
	if err != nil {
		return SelfServeStart{}, Errorf(KindNotFound, "this page is not valid")
	}
	decoy, err := newLinkToken(e.cfg.Rand)
	if err != nil {
		return SelfServeStart{}, err
	}
	out := SelfServeStart{Tenant: t, ChallengeID: decoy}
	var why string
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		why = ""
		u, mobile, reason, err := e.selfServeUser(ctx, tx, t, account)
		if err != nil {
			return err
		}
		if reason != "" {
			why = reason
			return nil
		}
		now := e.Now()
		recent, err := tx.SelfServeChallengesSince(ctx, t.ID, u.ClientID, u.GUID, now.Add(-time.Hour))
		if err != nil {
			return err
		}
		switch {
		case len(recent) >= selfServeSendsHour:
			why = "send limit per hour"
			return nil
		case len(recent) > 0 && now.Sub(recent[0].CreatedAt) < selfServeResendAfter:
			why = "resend cooldown"
			return nil
		}
		// A new code revokes the earlier ones; the user's failure count is
		// kept (NIST SP 800-63B §3.1.3.2).
		if err := tx.RevokeSelfServeChallenges(ctx, t.ID, u.ClientID, u.GUID, now); err != nil {
			return err
		}
		code, err := newCode(e.cfg.Rand, selfServeCodeDigits)
		if err != nil {
			return err
		}
		c := SelfServeChallenge{TenantID: t.ID, ID: decoy, ClientID: u.ClientID, GUID: u.GUID, Destination: mobile,
			CodeHash: codeHash(e.cfg.CodeKey, decoy, selfServeCodeChannel, code), CreatedAt: now, ExpiresAt: now.Add(selfServeCodeTTL)}
		if err := tx.CreateSelfServeChallenge(ctx, &c); err != nil {
			return err
		}
		msp := t.DisplayName()
		text := fmt.Sprintf("%s password self-service code %s %s for %s. Type it only on %s's own page. Expires in 5 minutes.",
			msp, code[:3], code[3:], u.SAMAccountName, msp)
		if err := e.queueNotice(ctx, tx, t.ID, Outbound{Kind: OutboxSMS, To: mobile, Text: text}, now); err != nil {
			return err
		}
		return e.audit(ctx, tx, t.ID, "enduser", AuditSelfServeCodeSent, u.SID, map[string]string{
			"guid": u.GUID, "client": u.ClientID, "account": u.SAMAccountName,
		})
	})
	if err != nil {
		return SelfServeStart{}, err
	}
	if why != "" {
		// Not audited: anyone can type any name here. The log has no
		// account name either, only why nothing was sent.
		e.log.InfoContext(ctx, "self-serve: no code sent", "tenant_id", t.ID, "reason", why)
	} else {
		e.Wake()
	}
	return out, nil
}

// selfServeUser finds the one user account names and says why it may not
// use self-serve ("" when it may), with the mobile to send to.
func (e *Engine) selfServeUser(ctx context.Context, tx Tx, t Tenant, account string) (DirectoryUser, string, string, error) {
	set, err := tx.SelfServeSettings(ctx, t.ID)
	if err != nil {
		return DirectoryUser{}, "", "", err
	}
	if !set.Enabled {
		return DirectoryUser{}, "", "tenant switch off", nil
	}
	users, err := tx.DirectoryUsersByAccount(ctx, t.ID, account)
	if err != nil {
		return DirectoryUser{}, "", "", err
	}
	if len(users) != 1 {
		// None, or several (two clients with the same account name): do
		// not guess (security.md §3).
		return DirectoryUser{}, "", fmt.Sprintf("%d accounts match", len(users)), nil
	}
	u := users[0]
	if !u.Enabled {
		return u, "", "account disabled", nil
	}
	reason, err := e.selfServeBlocked(ctx, tx, u)
	if err != nil || reason != "" {
		return u, "", reason, err
	}
	var bound string
	decisions, err := tx.MatchDecisions(ctx, t.ID, u.ClientID)
	if err != nil {
		return u, "", "", err
	}
	for _, d := range decisions {
		if d.GUID == u.GUID && d.State == MatchAccepted {
			bound = d.ContactID
		}
	}
	email, mobile, err := reachOf(ctx, tx, u, bound)
	if err != nil {
		return u, "", "", err
	}
	if email == "" || mobile == "" {
		return u, "", "no e-mail or mobile", nil
	}
	return u, mobile, "", nil
}

// selfServeBlocked says why u may not use self-serve now ("" when it may):
// its own switch, its registration, its failures.
func (e *Engine) selfServeBlocked(ctx context.Context, tx Tx, u DirectoryUser) (string, error) {
	owns, err := tx.SelfServeUsers(ctx, u.TenantID, u.ClientID)
	if err != nil {
		return "", err
	}
	var own SelfServeUser
	for _, o := range owns {
		if o.GUID == u.GUID {
			own = o
		}
	}
	switch {
	case !own.Enabled:
		return "user switch off", nil
	case own.Status != SelfServeRegistered && own.Status != SelfServeAccessed:
		return "not registered", nil
	}
	n, err := tx.SelfServeFailures(ctx, u.TenantID, u.ClientID, u.GUID)
	if err != nil {
		return "", err
	}
	if n >= selfServeFailureCap {
		return "locked out by failures", nil
	}
	return "", nil
}

// SelfServeAnswer is what the user sends with the code.
type SelfServeAnswer struct {
	ChallengeID string
	Code        string
	Action      SelfServeAction
	Password    string // for a reset
}

// CheckPassword applies the domain's policy to a new password as far as
// the page can: its minimum length (never below 8, our own floor) and, when
// the domain requires complexity, Active Directory's rules for it (three of
// four character classes, not containing the account name or a part of the
// display name of three or more characters). The password history and
// anything else are for the domain controller, whose refusal comes back as
// the request's result.
func CheckPassword(password, account, displayName string, pol PasswordPolicy) error {
	minLen := max(pol.MinLength, minPasswordLen)
	if len([]rune(password)) < minLen {
		return Errorf(KindInvalid, "the new password needs at least %d characters", minLen)
	}
	if len([]rune(password)) > maxPasswordLen {
		return Errorf(KindInvalid, "the new password can have at most %d characters", maxPasswordLen)
	}
	var classes [4]bool
	for _, r := range password {
		switch {
		case unicode.IsControl(r):
			return Errorf(KindInvalid, "the new password cannot contain control characters")
		case unicode.IsUpper(r):
			classes[0] = true
		case unicode.IsLower(r):
			classes[1] = true
		case unicode.IsDigit(r):
			classes[2] = true
		default:
			classes[3] = true
		}
	}
	if !pol.Complexity {
		return nil
	}
	n := 0
	for _, c := range classes {
		if c {
			n++
		}
	}
	if n < 3 {
		return Errorf(KindInvalid, "the new password needs three of: capital letters, small letters, digits, other characters")
	}
	lower := strings.ToLower(password)
	if len(account) >= 3 && strings.Contains(lower, strings.ToLower(account)) {
		return Errorf(KindInvalid, "the new password cannot contain your user name")
	}
	for _, part := range strings.FieldsFunc(displayName, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(part)) >= 3 && strings.Contains(lower, strings.ToLower(part)) {
			return Errorf(KindInvalid, "the new password cannot contain parts of your name")
		}
	}
	return nil
}

// ErrSelfServeCode is the one answer to every wrong, unknown, used, expired
// or burned code: the page does not say which.
var ErrSelfServeCode = Errorf(KindInvalid, "that code does not match, or it is no longer valid; ask for a new code if it keeps failing")

// CompleteSelfServe checks the code of a challenge and, when it matches,
// queues the reset or unlock for the client's harvester, in one
// transaction with its audit; the user's status becomes Accessed
// Self-Serve. A wrong code counts against the code and the user (committed
// even though the answer is an error).
func (e *Engine) CompleteSelfServe(ctx context.Context, slug string, a SelfServeAnswer) (SelfServeRequest, error) {
	code, err := checkSelfServeAnswer(a)
	if err != nil {
		return SelfServeRequest{}, err
	}
	t, err := e.TenantBySlug(ctx, slug)
	if err != nil {
		return SelfServeRequest{}, Errorf(KindNotFound, "this page is not valid")
	}
	var at selfServeAttempt
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		at = selfServeAttempt{tenantID: t.ID, answer: a, code: code}
		return e.answerSelfServe(ctx, tx, &at)
	})
	if err != nil {
		return SelfServeRequest{}, err
	}
	if at.refusal != nil {
		return SelfServeRequest{}, at.refusal
	}
	e.agents.wake(at.device)
	return at.req, nil
}

// checkSelfServeAnswer checks what needs no reading in an answer: the
// action, and a code of the right digits, which it returns normalised.
func checkSelfServeAnswer(a SelfServeAnswer) (string, error) {
	switch a.Action {
	case SelfServeReset, SelfServeUnlock:
	default:
		return "", Errorf(KindInvalid, "choose whether to reset your password or unlock your account")
	}
	code := normalizeCode(a.Code)
	if !isDigits(code, selfServeCodeDigits) {
		return "", Errorf(KindInvalid, "type the %d digits of the code from the text message", selfServeCodeDigits)
	}
	return code, nil
}

// selfServeAttempt is one answer as CompleteSelfServe's transaction checks
// it. refusal, when set, is the end user's answer, committed with
// whatever the attempt counted; req and device are the task queued.
type selfServeAttempt struct {
	tenantID string
	answer   SelfServeAnswer
	code     string
	refusal  error
	req      SelfServeRequest
	device   string
}

// answerSelfServe is CompleteSelfServe's transaction: find the
// challenge's user, check the new password, refuse a blocked user, spend
// the code, refuse a reset the client's policy wants more for, and queue
// the task.
func (e *Engine) answerSelfServe(ctx context.Context, tx Tx, at *selfServeAttempt) error {
	c, u, err := selfServeChallengeUser(ctx, tx, at.tenantID, at.answer.ChallengeID)
	if err != nil {
		return err
	}
	if u.GUID == "" {
		at.refusal = ErrSelfServeCode
		return nil
	}
	if at.answer.Action == SelfServeReset {
		// Before the code, so a password the page refuses does not
		// burn a good code.
		if at.refusal, err = selfServePasswordRefusal(ctx, tx, at.tenantID, u, at.answer.Password); err != nil || at.refusal != nil {
			return err
		}
	}
	reason, err := e.selfServeBlocked(ctx, tx, u)
	if err != nil {
		return err
	}
	if reason != "" {
		at.refusal = ErrSelfServeCode
		return nil
	}
	now := e.Now()
	if spent, err := e.spendSelfServeCode(ctx, tx, at.tenantID, u, c, at.code, now, &at.refusal); err != nil || !spent {
		return err
	}
	if at.answer.Action == SelfServeReset {
		if at.refusal, err = e.selfServeResetRefusal(ctx, tx, at.tenantID, u); err != nil || at.refusal != nil {
			return err
		}
	}
	return e.queueSelfServe(ctx, tx, u, at, now)
}

// selfServeChallengeUser reads a challenge and the directory user it was
// sent for; an unknown challenge or a user no longer in the directory
// leaves the user's GUID empty.
func selfServeChallengeUser(ctx context.Context, tx Tx, tenantID, challengeID string) (SelfServeChallenge, DirectoryUser, error) {
	c, err := tx.SelfServeChallenge(ctx, tenantID, challengeID)
	if isNotFound(err) {
		return SelfServeChallenge{}, DirectoryUser{}, nil
	}
	if err != nil {
		return SelfServeChallenge{}, DirectoryUser{}, err
	}
	users, err := tx.DirectoryUsers(ctx, tenantID, c.ClientID)
	if err != nil {
		return SelfServeChallenge{}, DirectoryUser{}, err
	}
	var u DirectoryUser
	for _, x := range users {
		if x.GUID == c.GUID {
			u = x
		}
	}
	return c, u, nil
}

// selfServePasswordRefusal says why the client's password policy (or the
// default one) refuses password for u, or nil when it does not.
func selfServePasswordRefusal(ctx context.Context, tx Tx, tenantID string, u DirectoryUser, password string) (error, error) {
	pol, err := tx.PasswordPolicy(ctx, tenantID, u.ClientID)
	if isNotFound(err) {
		pol, err = defaultPasswordPolicy, nil
	}
	if err != nil {
		return nil, err
	}
	return CheckPassword(password, u.SAMAccountName, u.Name(), pol), nil
}

// spendSelfServeCode checks code against challenge c and spends it,
// clearing u's failures. A wrong, spent or expired code counts against
// the code and the user (failSelfServe sets refusal) and spent is false.
func (e *Engine) spendSelfServeCode(ctx context.Context, tx Tx, tenantID string, u DirectoryUser, c SelfServeChallenge, code string, now time.Time, refusal *error) (spent bool, err error) {
	open := c.ConsumedAt.IsZero() && c.RevokedAt.IsZero() && now.Before(c.ExpiresAt) && c.Attempts < selfServeCodeTries
	match := hmac.Equal(codeHash(e.cfg.CodeKey, c.ID, selfServeCodeChannel, code), c.CodeHash)
	if !open || !match {
		return false, e.failSelfServe(ctx, tx, u, c, open, refusal)
	}
	if err := tx.ConsumeSelfServeChallenge(ctx, tenantID, c.ID, selfServeCodeTries, now); err != nil {
		if isNotFound(err) {
			return false, e.failSelfServe(ctx, tx, u, c, false, refusal)
		}
		return false, err
	}
	return true, tx.SetSelfServeFailures(ctx, tenantID, u.ClientID, u.GUID, 0, now)
}

// selfServeResetRefusal refuses, with its audit, a reset for a client
// whose policy wants more than the page's code, a text message. It runs
// after the code, so the answer says nothing about accounts to whoever
// lacks the phone, and the code is spent.
func (e *Engine) selfServeResetRefusal(ctx context.Context, tx Tx, tenantID string, u DirectoryUser) (error, error) {
	policy, err := EffectivePolicy(ctx, tx, tenantID, u.ClientID)
	if err != nil {
		return nil, err
	}
	if policy.CheckAssurance(MethodSMSCode, PurposeReset) == nil {
		return nil, nil
	}
	need := policy.RequiredAssurance(PurposeReset)
	refusal := Errorf(KindAssuranceTooLow, "your organisation requires %s for password resets, which this page cannot give; call your IT help desk",
		need.requirement())
	return refusal, e.audit(ctx, tx, tenantID, "enduser", AuditSelfServeResetRefused, u.SID, map[string]string{
		"guid": u.GUID, "client": u.ClientID, "account": u.SAMAccountName, "required": string(need),
	})
}

// queueSelfServe queues the reset or unlock for u's harvester, marks u
// Accessed Self-Serve and audits the request.
func (e *Engine) queueSelfServe(ctx context.Context, tx Tx, u DirectoryUser, at *selfServeAttempt, now time.Time) error {
	d, err := e.harvesterOf(ctx, tx, u)
	if err != nil {
		// Rolled back: the code stays usable for when it can.
		return err
	}
	at.req, err = e.queueDirectoryTask(ctx, tx, u, d, directoryTaskSpec{Action: at.answer.Action, Password: at.answer.Password}, now)
	if err != nil {
		return err
	}
	action := AuditSelfServeResetRequested
	if at.answer.Action == SelfServeUnlock {
		action = AuditSelfServeUnlockRequested
	}
	if err := e.markAccessed(ctx, tx, u, now); err != nil {
		return err
	}
	at.device = d.ID
	return e.audit(ctx, tx, at.tenantID, "enduser", action, u.SID, map[string]string{
		"guid": u.GUID, "client": u.ClientID, "account": u.SAMAccountName, "device": d.ID, "task": at.req.TaskID,
	})
}

// errHarvesterUnavailable is the end user's answer when the client's
// harvester cannot take the task.
var errHarvesterUnavailable = Errorf(KindUnavailable, "your organisation's directory server cannot take requests right now; call your IT help desk")

// harvesterOf returns the harvester that reported u, when it may still
// take tasks for u's client.
func (e *Engine) harvesterOf(ctx context.Context, tx Tx, u DirectoryUser) (Device, error) {
	d, err := tx.Device(ctx, u.TenantID, u.DeviceID)
	if isNotFound(err) || (err == nil && (d.Revoked() || d.ClientID != u.ClientID)) {
		return Device{}, errHarvesterUnavailable
	}
	return d, err
}

// directoryTaskSpec is what a directory task asks of the harvester, and
// for whom when a technician asked.
type directoryTaskSpec struct {
	Action         SelfServeAction
	Password       string // a reset's
	MustChange     bool
	VerificationID string // the technician's verification; "" for self-serve
	TechnicianID   string
}

// queueDirectoryTask queues, in tx, the sealed reset or unlock of u for
// the harvester d, with the request that follows it to its result. The
// password is only ever in the sealed payload, which is wiped once the
// harvester has it. The caller wakes d after the commit.
func (e *Engine) queueDirectoryTask(ctx context.Context, tx Tx, u DirectoryUser, d Device, spec directoryTaskSpec, now time.Time) (SelfServeRequest, error) {
	reqID, err := newLinkToken(e.cfg.Rand)
	if err != nil {
		return SelfServeRequest{}, err
	}
	p := DirectoryTask{RequestID: reqID, GUID: u.GUID, Account: u.SAMAccountName}
	kind := TaskDirectoryUnlock
	if spec.Action == SelfServeReset {
		kind, p.Password, p.MustChange = TaskDirectoryReset, spec.Password, spec.MustChange
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return SelfServeRequest{}, err
	}
	task := AgentTask{ID: NewID("tsk"), TenantID: u.TenantID, DeviceID: d.ID, Kind: kind, CreatedAt: now, ExpiresAt: now.Add(selfServeTaskTTL)}
	if task.Payload, err = e.cfg.Sealer.Seal(payload, taskAAD(u.TenantID, task.ID)); err != nil {
		return SelfServeRequest{}, err
	}
	if err := e.queueTask(ctx, tx, &task); err != nil {
		return SelfServeRequest{}, err
	}
	req := SelfServeRequest{TenantID: u.TenantID, ID: reqID, ClientID: u.ClientID, GUID: u.GUID, Action: spec.Action, DeviceID: d.ID,
		TaskID: task.ID, Status: SelfServeQueued, CreatedAt: now, ExpiresAt: task.ExpiresAt,
		VerificationID: spec.VerificationID, TechnicianID: spec.TechnicianID}
	return req, tx.CreateSelfServeRequest(ctx, &req)
}

// failSelfServe counts a failed entry against the code (when it was still
// open) and the user, and audits it; refusal gets the page's answer.
func (e *Engine) failSelfServe(ctx context.Context, tx Tx, u DirectoryUser, c SelfServeChallenge, open bool, refusal *error) error {
	*refusal = ErrSelfServeCode
	if open {
		if err := tx.FailSelfServeChallenge(ctx, c.TenantID, c.ID); err != nil {
			return err
		}
	}
	n, err := tx.SelfServeFailures(ctx, u.TenantID, u.ClientID, u.GUID)
	if err != nil {
		return err
	}
	n++
	if err := tx.SetSelfServeFailures(ctx, u.TenantID, u.ClientID, u.GUID, n, e.Now()); err != nil {
		return err
	}
	return e.audit(ctx, tx, u.TenantID, "enduser", AuditSelfServeCodeFailed, u.SID, map[string]string{
		"guid": u.GUID, "client": u.ClientID, "failures": fmt.Sprint(n), "code_attempts": fmt.Sprint(c.Attempts + 1),
	})
}

// markAccessed sets the user's status to Accessed Self-Serve.
func (e *Engine) markAccessed(ctx context.Context, tx Tx, u DirectoryUser, now time.Time) error {
	owns, err := tx.SelfServeUsers(ctx, u.TenantID, u.ClientID)
	if err != nil {
		return err
	}
	for _, o := range owns {
		if o.GUID == u.GUID {
			if o.Status == SelfServeAccessed {
				return nil
			}
			o.Status, o.ChangedBy, o.ChangedAt = SelfServeAccessed, "enduser", now
			return tx.PutSelfServeUser(ctx, &o)
		}
	}
	return nil
}

// taskAAD binds a sealed task payload to its tenant and task.
func taskAAD(tenantID, taskID string) []byte {
	return []byte("agent_task\x00" + tenantID + "\x00" + taskID)
}

// sealedTask reports whether a task kind's payload is sealed in the store.
func sealedTask(k AgentTaskKind) bool { return k == TaskDirectoryReset || k == TaskDirectoryUnlock }

// SelfServeRequestView returns a request for its status page. A queued
// request whose task expired before the harvester fetched it reads as
// failed.
func (e *Engine) SelfServeRequestView(ctx context.Context, slug, id string) (SelfServeRequest, Tenant, error) {
	t, err := e.TenantBySlug(ctx, slug)
	if err != nil {
		return SelfServeRequest{}, Tenant{}, Errorf(KindNotFound, "this page is not valid")
	}
	var r SelfServeRequest
	err = e.cfg.Store.View(ctx, func(tx Tx) error {
		r, err = tx.SelfServeRequest(ctx, t.ID, id)
		if isNotFound(err) {
			return Errorf(KindNotFound, "this page is not valid")
		}
		return err
	})
	if err == nil && r.Status == SelfServeQueued && !e.Now().Before(r.ExpiresAt) {
		r.Status, r.Reason = SelfServeFailed, reasonEndUserNotFetched
	}
	return r, t, err
}

// maxTaskReason bounds the reason a harvester reports.
const maxTaskReason = 500

// ReportTaskResult records what the device d's harvester did with a
// directory task: ok, or the reason it failed (shown to the user, so the
// harvester sends a message fit for that, never the password). Only the
// device the task was queued for can report it, once — also after its
// report's lease lapsed (DirectoryReportLease), which amends the request
// that lapse failed.
func (e *Engine) ReportTaskResult(ctx context.Context, d Device, taskID string, ok bool, reason string) error {
	reason = strings.TrimSpace(reason)
	reason = ClipBytes(reason, maxTaskReason, "")
	if !ok && reason == "" {
		return Errorf(KindInvalid, "a failed task needs a reason")
	}
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		r, err := tx.SelfServeRequestByTask(ctx, d.TenantID, taskID)
		if err != nil {
			return err
		}
		if r.DeviceID != d.ID {
			return Errorf(KindNotFound, "no task %s for this device", taskID)
		}
		status, action := SelfServeDone, AuditSelfServeRequestDone
		if !ok {
			status, action = SelfServeFailed, AuditSelfServeRequestFailed
		} else {
			reason = ""
		}
		if r.VerificationID != "" {
			action = AuditDirectoryRequestDone
			if !ok {
				action = AuditDirectoryRequestFailed
			}
		}
		now := e.Now()
		late := false
		if err := tx.FinishSelfServeRequest(ctx, d.TenantID, r.ID, status, reason, now); err != nil {
			if !isNotFound(err) {
				return err
			}
			// Settled already: by an earlier report, or by the sweep when
			// the report's lease lapsed (directory_expiry.go) — then this
			// is the outcome nobody knew, taken once.
			if r.Status != SelfServeFailed || r.Reason != unreportedReason(r) {
				return Errorf(KindConflict, "task %s has a result already", taskID)
			}
			if err := tx.AmendSelfServeRequest(ctx, d.TenantID, r.ID, r.Reason, status, reason, now); err != nil {
				if isNotFound(err) {
					return Errorf(KindConflict, "task %s has a result already", taskID)
				}
				return err
			}
			late, action = true, AuditSelfServeLateResult
			if r.VerificationID != "" {
				action = AuditDirectoryLateResult
			}
		}
		r.Status, r.Reason, r.FinishedAt = status, reason, now
		if err := e.queueDirectoryNote(ctx, tx, r, now, late); err != nil {
			return err
		}
		detail := map[string]string{
			"guid": r.GUID, "client": r.ClientID, "action": string(r.Action), "task": taskID, "reason": reason,
			"verification": r.VerificationID,
		}
		if late {
			detail["outcome"] = string(status)
		}
		return e.audit(ctx, tx, d.TenantID, deviceActor(d.ID), action, r.GUID, detail)
	})
}
