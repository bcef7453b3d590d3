package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
)

// Technician reset and unlock (issue 17.4). Once a caller is verified, the
// technician who verified them may, from the card (console or pod), reset
// the password of the directory account bound to that contact, or unlock
// it. It is a gated action (security.md §8): the verification is the
// grant, and it is good for each action once, for [TechDirectoryGrantTTL]
// after it succeeded, for that contact and that technician only. Its use
// is one insert on (verification, action) in the transaction that queues
// the task, so two presses or two nodes cannot both use it; every refusal
// (role, verification, binding, password, harvester) comes before it, so a
// refused request leaves nothing written and the grant unused.
//
// The reset or unlock goes to the client's harvester as the same sealed
// directory task as the end user's (queueDirectoryTask); its result comes
// back through ReportTaskResult, which audits it and, when the
// verification came from a PSA ticket, writes it to the ticket as a note.

// TechDirectoryGrantTTL is how long after a verification succeeded its
// technician may still reset or unlock.
const TechDirectoryGrantTTL = 10 * time.Minute

// generatedPasswordLen is the length of a password Countersign makes up.
const generatedPasswordLen = 16

// DirectoryGrant is the use of a verification for one directory action.
type DirectoryGrant struct {
	TenantID       string
	VerificationID string
	Action         SelfServeAction
	ContactID      string
	TechnicianID   string
	RequestID      string
	ExpiresAt      time.Time // the verification's success + TechDirectoryGrantTTL
	UsedAt         time.Time
}

// TechDirectoryTx is the part of [Tx] for technician resets and unlocks.
type TechDirectoryTx interface {
	// DirectoryUserBySID returns the client's directory user with sid.
	DirectoryUserBySID(ctx context.Context, tenantID, clientID, sid string) (DirectoryUser, error)
	// DirectoryUserByGUID returns the client's directory user with guid.
	DirectoryUserByGUID(ctx context.Context, tenantID, clientID, guid string) (DirectoryUser, error)
	// UseDirectoryGrant records the use of a verification for an action;
	// ErrConflict when it was used for that action already (one insert on
	// the key decides, security.md §1.5).
	UseDirectoryGrant(ctx context.Context, g *DirectoryGrant) error
	// SelfServeRequestsOfVerification returns the resets and unlocks asked
	// for with a verification, newest first.
	SelfServeRequestsOfVerification(ctx context.Context, tenantID, verificationID string) ([]SelfServeRequest, error)
}

// CanResetDirectory reports whether a technician with role r may reset or
// unlock directory accounts: owners, admins and technicians. Pod-only
// technicians may not: they are made on the fly for any PSA member who
// opens a pod (Policy.AutoCreatePodTechnicians), which is too wide a door
// for a password reset.
func (r Role) CanResetDirectory() bool {
	return r == RoleOwner || r == RoleAdmin || r == RoleTechnician
}

// TechDirectoryRequest is a technician's reset or unlock.
type TechDirectoryRequest struct {
	TenantID       string
	TechnicianID   string
	VerificationID string
	// ContactID is the contact on the technician's card; it must be the
	// verification's.
	ContactID string
	Action    SelfServeAction
	// Password is the new password a technician typed; with Generate it
	// must be empty and Countersign makes one up.
	Password   string
	Generate   bool
	MustChange bool // change at next logon
}

// TechDirectoryResult is a queued technician reset or unlock.
type TechDirectoryResult struct {
	Request SelfServeRequest
	// Password is the generated password, shown once to the technician;
	// "" for a typed one or an unlock. It is kept nowhere else but the
	// sealed task, which is wiped once the harvester has it.
	Password string
	Account  string
}

// TechDirectoryState is what the card shows about the directory account
// of a verification's contact.
type TechDirectoryState struct {
	// Reason says why the technician cannot act now; "" when they can.
	Reason string
	// ResetReason says why a password reset in particular cannot be done
	// with this verification (its method is below the client's minimum
	// assurance for resets, see [Policy.ResetMinAssurance]); an unlock
	// still can. "" when it can, or when Reason already says why not.
	ResetReason string
	User        DirectoryUser // zero when the contact has no directory binding
	// Until is when the grant ends; zero when there is none.
	Until time.Time
	// Used lists the actions the verification was used for already.
	Used     []SelfServeAction
	Requests []SelfServeRequest // newest first
}

// techDirectoryTarget checks everything a technician's reset or unlock of
// the verification's contact needs except the use itself, and returns the
// directory user and its harvester. The errors are the refusals, in a
// technician's words.
func (e *Engine) techDirectoryTarget(ctx context.Context, tx Tx, tenantID, techID, verificationID, contactID string, now time.Time) (Verification, DirectoryUser, Device, error) {
	var (
		u DirectoryUser
		d Device
	)
	tech, err := tx.Technician(ctx, tenantID, techID)
	if err != nil {
		return Verification{}, u, d, err
	}
	if tech.Disabled() || !tech.Role.CanResetDirectory() {
		return Verification{}, u, d, refuse(RefusedRole, Errorf(KindForbidden, "your role (%s) may not reset passwords or unlock accounts; ask an admin", tech.Role))
	}
	v, err := tx.Verification(ctx, tenantID, verificationID)
	if isNotFound(err) {
		return v, u, d, refuse(RefusedNoVerification, Errorf(KindNotFound, "no such verification"))
	}
	if err != nil {
		return v, u, d, err
	}
	switch {
	case contactID != "" && v.ContactID != contactID:
		return v, u, d, refuse(RefusedOtherContact, Errorf(KindForbidden, "that verification is of another contact: verify this caller first"))
	case v.TechnicianID != techID:
		return v, u, d, refuse(RefusedOtherTechnician, Errorf(KindForbidden, "another technician ran that verification: verify the caller yourself first"))
	case v.EffectiveStatus(now) != StatusVerified:
		return v, u, d, refuse(RefusedNotVerified, Errorf(KindForbidden, "the caller is not verified (the verification is %s): verify the caller first", v.EffectiveStatus(now)))
	case !now.Before(v.CompletedAt.Add(TechDirectoryGrantTTL)):
		return v, u, d, refuse(RefusedGrantExpired, Errorf(KindForbidden, "the caller was verified more than %d minutes ago: verify them again first", int(TechDirectoryGrantTTL/time.Minute)))
	}
	c, err := tx.Contact(ctx, tenantID, v.ContactID)
	if err != nil {
		return v, u, d, err
	}
	u, err = e.directoryUserOf(ctx, tx, c)
	if err != nil {
		return v, u, d, err
	}
	if !u.Enabled {
		return v, u, d, refuse(RefusedAccountDisabled, Errorf(KindInvalid, "%s's account %s is disabled in the directory", c.Name(), u.SAMAccountName))
	}
	d, err = tx.Device(ctx, tenantID, u.DeviceID)
	if isNotFound(err) || (err == nil && (d.Revoked() || d.ClientID != u.ClientID)) {
		return v, u, d, refuse(RefusedNoHarvester, Errorf(KindUnavailable, "this client has no directory harvester any more: nothing can be reset or unlocked"))
	}
	if err != nil {
		return v, u, d, err
	}
	if !d.Online(now) {
		last := "never"
		if !d.LastSeenAt.IsZero() {
			last = "last at " + d.LastSeenAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		return v, u, d, refuse(RefusedHarvesterOffline, Errorf(KindUnavailable, "the client's directory harvester (%s) is offline (heard from %s): try again when it is back", d.Name, last))
	}
	return v, u, d, nil
}

// Reasons a technician's reset or unlock is refused, as its audit event
// (AuditDirectoryRequestRefused) records them in its "reason" detail.
const (
	RefusedRole             = "role"              // the technician's role may not
	RefusedNoVerification   = "no_verification"   // no such verification in the tenant
	RefusedOtherContact     = "other_contact"     // the verification is of another contact than the card's
	RefusedOtherTechnician  = "other_technician"  // another technician ran the verification
	RefusedNotVerified      = "not_verified"      // the verification did not (or not yet) succeed
	RefusedGrantExpired     = "grant_expired"     // verified more than TechDirectoryGrantTTL ago
	RefusedGrantUsed        = "grant_used"        // the verification was used for the action already
	RefusedNotBound         = "not_bound"         // the contact has no directory account bound
	RefusedSeveralBound     = "several_bound"     // the contact is bound to several accounts
	RefusedAccountDisabled  = "account_disabled"  // the account is disabled in the directory
	RefusedNoHarvester      = "no_harvester"      // the client's harvester is gone or revoked
	RefusedHarvesterOffline = "harvester_offline" // the harvester has not polled lately
	RefusedAssuranceTooLow  = "assurance_too_low" // the verification's method is below the reset minimum
	RefusedPasswordPolicy   = "password_policy"   // the typed password fails the domain's policy
	RefusedMalformed        = "malformed"         // no reset or unlock at all: bad JSON, an unknown action, a password both typed and generated
)

// techRefusal is a refusal of a technician's reset or unlock: the error
// the technician is shown, and the reason its audit event records.
type techRefusal struct {
	reason string // one of the Refused… constants
	err    error
}

func (r *techRefusal) Error() string { return r.err.Error() }
func (r *techRefusal) Unwrap() error { return r.err }

// refuse marks err as a refusal for reason.
func refuse(reason string, err error) error { return &techRefusal{reason: reason, err: err} }

// directoryUserOf returns the directory account bound to contact c: the
// directory user of c's client whose SID a confirmed binding ties to c.
func (e *Engine) directoryUserOf(ctx context.Context, tx Tx, c Contact) (DirectoryUser, error) {
	bindings, err := tx.BindingsOfContact(ctx, c.TenantID, c.ID)
	if err != nil {
		return DirectoryUser{}, err
	}
	var found []DirectoryUser
	for _, b := range bindings {
		if b.ClientID != c.ClientID || b.State != BindingConfirmed {
			continue
		}
		u, err := tx.DirectoryUserBySID(ctx, c.TenantID, c.ClientID, b.SID)
		if isNotFound(err) {
			continue // a local workstation account, or one no longer harvested
		}
		if err != nil {
			return DirectoryUser{}, err
		}
		found = append(found, u)
	}
	switch len(found) {
	case 0:
		return DirectoryUser{}, refuse(RefusedNotBound, Errorf(KindInvalid, "%s has no directory account bound: accept a match in the directory's match report first", c.Name()))
	case 1:
		return found[0], nil
	}
	return DirectoryUser{}, refuse(RefusedSeveralBound, Errorf(KindConflict, "%s is bound to %d directory accounts: reject the wrong match first", c.Name(), len(found)))
}

// TechDirectoryAction resets or unlocks, through the client's harvester,
// the directory account of a contact the technician just verified, using
// that verification's grant for the action. The password (typed, or
// generated and returned once) is checked against the domain's policy as
// the harvester last reported it. All of it, with its audit, is one
// transaction; a refusal — a malformed request's too — writes nothing but
// its own audit event (AuditDirectoryRequestRefused, with the reason),
// after the rollback.
func (e *Engine) TechDirectoryAction(ctx context.Context, r TechDirectoryRequest) (TechDirectoryResult, error) {
	if err := checkTechDirectoryRequest(r); err != nil {
		return TechDirectoryResult{}, e.auditTechRefusal(ctx, r, Verification{}, DirectoryUser{}, &techRefusal{reason: RefusedMalformed, err: err})
	}
	var (
		out    TechDirectoryResult
		device string
		v      Verification
		u      DirectoryUser
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		out, device = TechDirectoryResult{}, ""
		now := e.Now()
		var (
			d   Device
			err error
		)
		v, u, d, err = e.techDirectoryTarget(ctx, tx, r.TenantID, r.TechnicianID, r.VerificationID, r.ContactID, now)
		if err != nil {
			return err
		}
		password := r.Password
		if r.Action == SelfServeReset {
			if why, err := resetAssuranceRefusal(ctx, tx, v); err != nil || why != "" {
				if err != nil {
					return err
				}
				return refuse(RefusedAssuranceTooLow, Errorf(KindAssuranceTooLow, "%s", why))
			}
			pol, err := tx.PasswordPolicy(ctx, r.TenantID, u.ClientID)
			if isNotFound(err) {
				pol, err = defaultPasswordPolicy, nil
			}
			if err != nil {
				return err
			}
			if r.Generate {
				if password, err = generatePassword(e.cfg.Rand, u, pol); err != nil {
					return err
				}
				out.Password = password
			} else if err := CheckPassword(password, u.SAMAccountName, u.Name(), pol); err != nil {
				if ErrorKind(err) == KindInvalid {
					return refuse(RefusedPasswordPolicy, err)
				}
				return err
			}
		}
		req, err := e.queueDirectoryTask(ctx, tx, u, d, directoryTaskSpec{Action: r.Action, Password: password,
			MustChange: r.MustChange && r.Action == SelfServeReset, VerificationID: v.ID, TechnicianID: r.TechnicianID}, now)
		if err != nil {
			return err
		}
		g := DirectoryGrant{TenantID: r.TenantID, VerificationID: v.ID, Action: r.Action, ContactID: v.ContactID,
			TechnicianID: r.TechnicianID, RequestID: req.ID, ExpiresAt: v.CompletedAt.Add(TechDirectoryGrantTTL), UsedAt: now}
		if err := tx.UseDirectoryGrant(ctx, &g); err != nil {
			if ErrorKind(err) == KindConflict {
				return refuse(RefusedGrantUsed, Errorf(KindConflict, "this verification was used for the %s already: verify the caller again to do it again", actionWords(r.Action)))
			}
			return err
		}
		action := AuditDirectoryUnlockRequested
		if r.Action == SelfServeReset {
			action = AuditDirectoryResetRequested
		}
		out.Request, out.Account, device = req, u.SAMAccountName, d.ID
		return e.audit(ctx, tx, r.TenantID, techActor(r.TechnicianID), action, u.SID, map[string]string{
			"guid": u.GUID, "client": u.ClientID, "account": u.SAMAccountName, "contact": v.ContactID,
			"verification": v.ID, "device": d.ID, "task": req.TaskID, "request": req.ID,
			"must_change": boolText(req.Action == SelfServeReset && r.MustChange), "generated": boolText(r.Generate),
		})
	})
	if ref := (*techRefusal)(nil); errors.As(err, &ref) {
		return TechDirectoryResult{}, e.auditTechRefusal(ctx, r, v, u, ref)
	}
	if err != nil {
		return TechDirectoryResult{}, err
	}
	e.agents.wake(device)
	return out, nil
}

// checkTechDirectoryRequest refuses a request that is no reset or unlock
// at all, before any check of the gate.
func checkTechDirectoryRequest(r TechDirectoryRequest) error {
	switch r.Action {
	case SelfServeReset:
		if r.Generate == (r.Password != "") {
			return Errorf(KindInvalid, "type a new password, or have one generated")
		}
	case SelfServeUnlock:
		if r.Password != "" || r.Generate {
			return Errorf(KindInvalid, "an unlock takes no password")
		}
	default:
		return Errorf(KindInvalid, "choose reset or unlock")
	}
	return nil
}

// RefuseTechDirectoryRequest records that a technician's reset or unlock
// request was refused as malformed before it could be read (a body that
// is no JSON request, RefusedMalformed), and returns err for the
// technician — or the failure to audit it. Only the tenant, technician
// and verification of r are known; nothing but the audit event is
// written.
func (e *Engine) RefuseTechDirectoryRequest(ctx context.Context, r TechDirectoryRequest, err error) error {
	return e.auditTechRefusal(ctx, r, Verification{}, DirectoryUser{}, &techRefusal{reason: RefusedMalformed, err: err})
}

// auditTechRefusal records, in a transaction of its own (the request's
// rolled back), that a technician's reset or unlock was refused and why,
// and returns the refusal for the technician — or, when the audit could
// not be written, that failure instead: a refusal nobody can find later
// is not one to report as handled. v and u are the verification and the
// directory account as far as the checks got (zero before them), so the
// event names what the technician tried to act on.
func (e *Engine) auditTechRefusal(ctx context.Context, r TechDirectoryRequest, v Verification, u DirectoryUser, ref *techRefusal) error {
	// What the technician sent is clipped: a malformed request's action
	// or path may be anything.
	subject := u.SID
	if subject == "" {
		subject = ClipRunes(r.VerificationID, 64, Ellipsis)
	}
	contact := v.ContactID
	if contact == "" {
		contact = r.ContactID
	}
	detail := map[string]string{
		"action": ClipRunes(string(r.Action), 32, Ellipsis), "reason": ref.reason, "message": ClipRunes(ErrorMessage(ref.err), 200, Ellipsis),
		"verification": ClipRunes(r.VerificationID, 64, Ellipsis),
	}
	if contact != "" {
		detail["contact"] = ClipRunes(contact, 64, Ellipsis)
	}
	if r.ContactID != "" && r.ContactID != contact {
		detail["card_contact"] = ClipRunes(r.ContactID, 64, Ellipsis)
	}
	if u.GUID != "" {
		detail["guid"], detail["client"], detail["account"] = u.GUID, u.ClientID, u.SAMAccountName
	}
	if err := e.Audit(ctx, r.TenantID, techActor(r.TechnicianID), AuditDirectoryRequestRefused, subject, detail); err != nil {
		return fmt.Errorf("core: audit refused directory request: %w", err)
	}
	return ref
}

// TechDirectory returns what the technician's card shows about the
// directory account of a verification's contact: whether the technician
// may act now (and if not, why), the account, and the requests made with
// the verification, a queued one past its task's expiry reading as failed.
func (e *Engine) TechDirectory(ctx context.Context, tenantID, techID, verificationID string) (TechDirectoryState, error) {
	var st TechDirectoryState
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		st = TechDirectoryState{}
		now := e.Now()
		v, u, _, err := e.techDirectoryTarget(ctx, tx, tenantID, techID, verificationID, "", now)
		switch {
		case err != nil && ErrorKind(err) == KindInternal:
			return err
		case err != nil && v.ID == "":
			// No verification (or not one this technician may see
			// requests of): nothing else to show.
			if isNotFound(err) {
				return err
			}
			st.Reason = err.Error()
			return nil
		case err != nil:
			st.Reason = err.Error()
		default:
			if st.ResetReason, err = resetAssuranceRefusal(ctx, tx, v); err != nil {
				return err
			}
		}
		st.User = u
		if st.User.GUID == "" && v.ID != "" && v.TechnicianID == techID {
			// Told why it cannot act, the card still names the account.
			if c, cerr := tx.Contact(ctx, tenantID, v.ContactID); cerr == nil {
				if du, derr := e.directoryUserOf(ctx, tx, c); derr == nil {
					st.User = du
				}
			}
		}
		if v.Status == StatusVerified && v.TechnicianID == techID {
			st.Until = v.CompletedAt.Add(TechDirectoryGrantTTL)
		}
		if st.Requests, err = tx.SelfServeRequestsOfVerification(ctx, tenantID, v.ID); err != nil {
			return err
		}
		for i, r := range st.Requests {
			st.Used = append(st.Used, r.Action)
			if r.Status == SelfServeQueued && !now.Before(r.ExpiresAt) {
				st.Requests[i].Status, st.Requests[i].Reason = SelfServeFailed, "the harvester did not pick up the request in time"
			}
		}
		return nil
	})
	return st, err
}

// resetAssuranceRefusal says why verification v does not count for a
// password reset: its method is below what the client's policy requires
// before a reset, whatever reason the technician marked when starting it.
// "" when it counts.
func resetAssuranceRefusal(ctx context.Context, tx Tx, v Verification) (string, error) {
	policy, err := EffectivePolicy(ctx, tx, v.TenantID, v.ClientID)
	if err != nil {
		return "", err
	}
	if err := policy.checkVerification(v, PurposeReset); err != nil {
		return ErrorMessage(err) + " to reset the password: verify the caller again with one of those first", nil
	}
	return "", nil
}

// actionWords names an action in a sentence.
func actionWords(a SelfServeAction) string {
	if a == SelfServeReset {
		return "password reset"
	}
	return "unlock"
}

// generatePassword makes up a password for u that the policy accepts:
// generatedPasswordLen characters (more if the policy asks) from letters,
// digits and a few symbols without look-alikes, with each of the four
// classes at least once, so that it is easy to read out over the phone.
func generatePassword(r io.Reader, u DirectoryUser, pol PasswordPolicy) (string, error) {
	classes := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!#%+-=?@"}
	all := strings.Join(classes, "")
	n := max(generatedPasswordLen, pol.MinLength)
	pick := func(set string) (byte, error) {
		i, err := rand.Int(r, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, fmt.Errorf("core: generate password: %w", err)
		}
		return set[i.Int64()], nil
	}
	for range 100 {
		b := make([]byte, n)
		for i := range b {
			set := all
			if i < len(classes) {
				set = classes[i]
			}
			c, err := pick(set)
			if err != nil {
				return "", err
			}
			b[i] = c
		}
		// Shuffle, so the classes are not always first (Fisher–Yates).
		for i := n - 1; i > 0; i-- {
			j, err := rand.Int(r, big.NewInt(int64(i+1)))
			if err != nil {
				return "", fmt.Errorf("core: generate password: %w", err)
			}
			b[i], b[j.Int64()] = b[j.Int64()], b[i]
		}
		if CheckPassword(string(b), u.SAMAccountName, u.Name(), pol) == nil {
			return string(b), nil
		}
	}
	return "", Errorf(KindInternal, "could not generate a password the policy accepts")
}

// queueDirectoryNote writes the result of a technician's reset or unlock
// to the PSA ticket its verification came from, through the outbox in the
// transaction that recorded the result (ticketnote.go). End-user requests
// and verifications not started from a ticket get no note. The note is not
// the verification's own (VerificationID stays ""), so that the card's
// note state still says where the verification's note stands. A late
// result (the harvester's report after its lease lapsed) says so.
func (e *Engine) queueDirectoryNote(ctx context.Context, tx Tx, r SelfServeRequest, now time.Time, late bool) error {
	if r.VerificationID == "" {
		return nil
	}
	v, err := tx.Verification(ctx, r.TenantID, r.VerificationID)
	if err != nil {
		return err
	}
	if v.IntegrationID == "" || v.TicketRef == "" {
		return nil
	}
	who, tech, account := "the contact", "a technician", r.GUID
	if c, err := tx.Contact(ctx, r.TenantID, v.ContactID); err == nil {
		who = c.Name()
	} else if !isNotFound(err) {
		return err
	}
	if t, err := tx.Technician(ctx, r.TenantID, r.TechnicianID); err == nil {
		tech = t.Name
	} else if !isNotFound(err) {
		return err
	}
	if u, err := tx.DirectoryUserByGUID(ctx, r.TenantID, r.ClientID, r.GUID); err == nil {
		account = u.SAMAccountName
	} else if !isNotFound(err) {
		return err
	}
	msg := Outbound{Kind: OutboxTicketNote, To: v.TicketRef, Tenant: r.TenantID, Integration: v.IntegrationID,
		Text: directoryNoteText(r, who, account, tech, late)}
	item := OutboxItem{ID: NewID("obx"), TenantID: r.TenantID, Kind: OutboxTicketNote, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.Senders[OutboxTicketNote] == nil}
	return e.sealAndEnqueue(ctx, tx, &item, msg, 0)
}

// directoryNoteText is the ticket note of a technician's reset or unlock;
// late marks the harvester's result that came after its lease lapsed.
func directoryNoteText(r SelfServeRequest, who, account, tech string, late bool) string {
	when := r.FinishedAt.UTC().Format("2006-01-02 15:04 UTC")
	head := "Countersign: "
	if late {
		head = "Countersign (late result from the harvester, after the earlier note said it was unknown): "
	}
	what := "account " + account + " UNLOCKED"
	if r.Action == SelfServeReset {
		what = "password of account " + account + " RESET"
	}
	if r.Status == SelfServeDone {
		return fmt.Sprintf("%s%s for %s by %s after verifying the caller (%s).", head, sentenceStart(what), who, tech, when)
	}
	failed := "unlock of account " + account
	if r.Action == SelfServeReset {
		failed = "password reset of account " + account
	}
	outcome := "FAILED"
	if r.Reason == reasonTechUnreported {
		outcome = "OUTCOME UNKNOWN"
	}
	return fmt.Sprintf("%s%s for %s by %s %s: %s (%s).", head, sentenceStart(failed), who, tech, outcome, r.Reason, when)
}

// sentenceStart capitalises the first letter of s.
func sentenceStart(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
