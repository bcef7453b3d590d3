package core

import (
	"context"
	"crypto/hmac"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// The tray's "Log a ticket": the tray cannot draw a form (systray has menus
// and message boxes only), so it opens the user's browser on a one-time
// page of ours. The service asks for the page for the Windows user it
// identified from the pipe; the page's token (256 bits, SHA-256 at rest)
// stands for that user of that device for a few minutes and one submit.

const (
	trayFormTTL     = 15 * time.Minute
	trayFormsPerDay = 30 // per user of a device; each is a row
)

// AuditTrayFormOpened is the audit action of a tray form handed out.
const AuditTrayFormOpened = "tray_form.opened"

// OpenTrayForm returns the URL of a fresh form for user sid of d, for
// logging a ticket or for signing in (purpose).
func (e *Engine) OpenTrayForm(ctx context.Context, d Device, sid string, purpose TrayFormPurpose) (string, time.Time, error) {
	if purpose != TrayFormTicket && purpose != TrayFormRegister {
		return "", time.Time{}, Errorf(KindInvalid, "unknown tray form %q", purpose)
	}
	var (
		link    string
		expires time.Time
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		if !e.seenOn(ctx, tx, d, sid) {
			return Errorf(KindNotFound, "this Windows user has not been reported by the agent yet; try again in a minute")
		}
		now := e.Now()
		n, err := tx.CountTrayForms(ctx, d.TenantID, d.ID, sid, now.Add(-24*time.Hour))
		if err != nil {
			return err
		}
		if n >= trayFormsPerDay {
			return Errorf(KindRateLimited, "too many ticket forms opened today; call the service desk")
		}
		token, err := newLinkToken(e.cfg.Rand)
		if err != nil {
			return err
		}
		f := TrayForm{TenantID: d.TenantID, DeviceID: d.ID, SID: sid, Purpose: purpose, TokenHash: LinkTokenHash(token), CreatedAt: now, ExpiresAt: now.Add(trayFormTTL)}
		if err := tx.CreateTrayForm(ctx, &f); err != nil {
			return err
		}
		link = strings.TrimRight(e.cfg.PublicURL, "/") + "/t/" + url.PathEscape(token)
		expires = f.ExpiresAt
		return e.audit(ctx, tx, d.TenantID, "device:"+d.ID, AuditTrayFormOpened, sid, map[string]string{"device": d.ID, "form": f.ID, "purpose": string(purpose)})
	})
	return link, expires, err
}

// TrayFormView is what the ticket form shows.
type TrayFormView struct {
	Purpose TrayFormPurpose
	Tenant  string // the MSP's name
	Client  string
	Device  string
	Bound   bool   // the user is bound: no name or e-mail is asked
	Contact string // the bound contact's name
	// AwaitingPassword: a sign-in form whose password went out by e-mail
	// (to Email) and is to be typed.
	AwaitingPassword bool
	Email            string
}

// trayForm finds the usable form of token and its device.
func (e *Engine) trayForm(ctx context.Context, tx Tx, token string) (TrayForm, Device, error) {
	if token == "" || len(token) > 64 {
		return TrayForm{}, Device{}, ErrNotFound
	}
	f, err := tx.TrayFormByHash(ctx, LinkTokenHash(token))
	if err != nil {
		return TrayForm{}, Device{}, err
	}
	switch {
	case !f.UsedAt.IsZero():
		return TrayForm{}, Device{}, Errorf(KindGone, "this form was sent already; choose Log a ticket in the Countersign icon for another one")
	case !e.Now().Before(f.ExpiresAt):
		return TrayForm{}, Device{}, Errorf(KindGone, "this form has expired; choose Log a ticket in the Countersign icon again")
	}
	d, err := tx.Device(ctx, f.TenantID, f.DeviceID)
	if err != nil {
		return TrayForm{}, Device{}, err
	}
	if d.Revoked() {
		return TrayForm{}, Device{}, Errorf(KindGone, "this computer was removed from Countersign; call the service desk")
	}
	return f, d, nil
}

// TrayFormForToken returns what the form of token shows; it changes nothing.
func (e *Engine) TrayFormForToken(ctx context.Context, token string) (TrayFormView, error) {
	var v TrayFormView
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		f, d, err := e.trayForm(ctx, tx, token)
		if err != nil {
			return err
		}
		t, err := tx.Tenant(ctx, d.TenantID)
		if err != nil {
			return err
		}
		c, err := tx.Client(ctx, d.TenantID, d.ClientID)
		if err != nil {
			return err
		}
		v = TrayFormView{Purpose: f.Purpose, Tenant: t.Name, Client: c.Name, Device: d.Name}
		if f.Purpose == TrayFormRegister {
			if en, ok, err := e.pendingRegistration(ctx, tx, f); err != nil {
				return err
			} else if ok {
				v.AwaitingPassword, v.Email = true, en.Email
			}
		}
		b, err := tx.Binding(ctx, d.TenantID, d.ClientID, f.SID)
		switch {
		case err == nil && b.State == BindingConfirmed:
			ct, err := tx.Contact(ctx, d.TenantID, b.ContactID)
			if err != nil {
				return err
			}
			v.Bound, v.Contact = true, ct.Name()
		case err != nil && !isNotFound(err):
			return err
		}
		return nil
	})
	return v, err
}

// SubmitTrayForm logs the ticket of a form, once: the form is spent in the
// same transaction, so a second submit (a double click, a replay) is
// refused; a refused ticket (a bad field, an unknown e-mail) leaves the form
// usable to correct it.
func (e *Engine) SubmitTrayForm(ctx context.Context, token string, in TrayTicket) (TrayTicketResult, error) {
	var (
		res     TrayTicketResult
		refused bool
		dev     Device
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		f, d, err := e.trayForm(ctx, tx, token)
		if err != nil {
			return err
		}
		dev = d
		if f.Purpose != TrayFormTicket {
			return Errorf(KindInvalid, "this form is for signing in, not for a ticket")
		}
		in.SID = f.SID
		if res, refused, err = e.logTrayTicket(ctx, tx, d, in); err != nil {
			return err
		}
		return tx.UseTrayForm(ctx, f.TenantID, f.ID, e.Now())
	})
	if refused {
		e.auditEnrolmentRefused(ctx, dev, in.SID, err)
	}
	return res, err
}

// Registration (issue 16 binding (b), "Login / Register"): the user gives a
// name and work e-mail on a sign-in form; the address must be one contact's
// of the client, as for a first ticket; a password goes to it; typing the
// password on the same form binds. The password is 8 characters of an
// alphabet without look-alikes (40 bits), kept only as an HMAC under the
// code key, good for 30 minutes and 5 tries.

const (
	registrationTTL      = 30 * time.Minute
	registrationAttempts = 5
	passwordAlphabet     = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
)

// Audit actions of registration.
const (
	AuditRegistrationRequested = "registration.requested"
	AuditRegistrationFailed    = "registration.failed"
)

func newTrayPassword(r io.Reader) (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("core: generate password: %w", err)
	}
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, passwordAlphabet[int(c)%len(passwordAlphabet)]) // 256 is a multiple of 32: no bias
	}
	return string(out), nil
}

func registrationHash(key []byte, enrolmentID, password string) []byte {
	p := strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, password))
	return codeHash(key, enrolmentID, "register", p)
}

// pendingRegistration is the newest registration of the form's user asked
// for on this form that can still be answered.
func (e *Engine) pendingRegistration(ctx context.Context, tx Tx, f TrayForm) (Enrolment, bool, error) {
	d, err := tx.Device(ctx, f.TenantID, f.DeviceID)
	if err != nil {
		return Enrolment{}, false, err
	}
	ens, err := tx.UserEnrolments(ctx, f.TenantID, d.ClientID, f.SID, f.CreatedAt)
	if err != nil {
		return Enrolment{}, false, err
	}
	for _, en := range ens {
		if en.How == BindRegister && en.State == EnrolmentPending && e.Now().Before(en.ExpiresAt) {
			return en, true, nil
		}
	}
	return Enrolment{}, false, nil
}

// RequestTrayPassword e-mails a sign-in password for the user of a sign-in
// form: name and work e-mail in, checked as for a first ticket.
func (e *Engine) RequestTrayPassword(ctx context.Context, token string, in TrayTicket) (string, error) {
	var (
		email   string
		refused bool
		dev     Device
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		f, d, err := e.trayForm(ctx, tx, token)
		if err != nil {
			return err
		}
		dev, in.SID = d, f.SID
		if f.Purpose != TrayFormRegister {
			return Errorf(KindInvalid, "this form is for a ticket, not for signing in")
		}
		in.Summary = "sign in" // names and e-mail are checked as for a first ticket
		if in, err = in.clean(false); err != nil {
			return err
		}
		client, err := tx.Client(ctx, d.TenantID, d.ClientID)
		if err != nil {
			return err
		}
		now := e.Now()
		recent, err := tx.UserEnrolments(ctx, d.TenantID, d.ClientID, in.SID, now.Add(-time.Hour))
		if err != nil {
			return err
		}
		if len(recent) >= enrolmentsPerHour {
			return Errorf(KindRateLimited, "you asked for %d e-mails in the last hour; use the newest one or call the service desk", len(recent))
		}
		c, err := e.enrolmentContact(ctx, tx, client, in.Email)
		if err != nil {
			refused = ErrorKind(err) == KindInvalid
			return err
		}
		for _, old := range recent {
			if old.State == EnrolmentPending {
				old.State = EnrolmentSuperseded
				if err := tx.UpdateEnrolment(ctx, &old); err != nil {
					return err
				}
			}
		}
		password, err := newTrayPassword(e.cfg.Rand)
		if err != nil {
			return err
		}
		en := Enrolment{ID: NewID("enr"), TenantID: d.TenantID, ClientID: d.ClientID, DeviceID: d.ID, SID: in.SID, How: BindRegister,
			State: EnrolmentPending, FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, ContactID: c.ID,
			CreatedAt: now, ExpiresAt: now.Add(registrationTTL)}
		en.SecretHash = registrationHash(e.cfg.CodeKey, en.ID, password)
		if err := tx.CreateEnrolment(ctx, &en); err != nil {
			return err
		}
		tenant, err := tx.Tenant(ctx, d.TenantID)
		if err != nil {
			return err
		}
		msg := Outbound{Kind: OutboxEmail, To: in.Email, Subject: "Your " + tenant.Name + " sign-in password for " + d.Name,
			Text: fmt.Sprintf("Hello %s,\n\nSomeone signed in to the computer %s as you asked to be known to %s.\n\n"+
				"If that was you, type this password on the page that is open there, within 30 minutes:\n\n  %s\n\n"+
				"If it was not you, ignore this e-mail and tell %s: nothing changes without the password.\n",
				in.FirstName, d.Name, tenant.Name, password, tenant.Name)}
		item := OutboxItem{ID: NewID("obx"), TenantID: d.TenantID, Kind: OutboxEmail, Status: OutboxPending,
			NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.DevDelivery || e.cfg.Senders[OutboxEmail] == nil}
		if err := e.sealAndEnqueue(ctx, tx, &item, msg, 0); err != nil {
			return err
		}
		email = in.Email
		return e.audit(ctx, tx, d.TenantID, "device:"+d.ID, AuditRegistrationRequested, in.SID,
			map[string]string{"enrolment": en.ID, "client": d.ClientID, "device": d.ID, "contact": c.ID})
	})
	if refused {
		e.auditEnrolmentRefused(ctx, dev, in.SID, err)
	}
	return email, err
}

// SignInTrayForm checks the password typed on a sign-in form and binds
// the user on a match. A wrong password counts; the fifth one ends the
// registration.
func (e *Engine) SignInTrayForm(ctx context.Context, token, password string) (TrayFormView, error) {
	var (
		v     TrayFormView
		wrong error // a wrong password: its count is committed, then returned
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		f, d, err := e.trayForm(ctx, tx, token)
		if err != nil {
			return err
		}
		en, ok, err := e.pendingRegistration(ctx, tx, f)
		if err != nil {
			return err
		}
		if !ok {
			return Errorf(KindGone, "no password is waiting for this page; ask for a new one")
		}
		if !hmac.Equal(registrationHash(e.cfg.CodeKey, en.ID, password), en.SecretHash) {
			en.Attempts++
			left := registrationAttempts - en.Attempts
			if left <= 0 {
				en.State = EnrolmentFailed
				wrong = Errorf(KindGone, "that password was wrong too many times; ask for a new one")
			} else {
				wrong = Errorf(KindInvalid, "that is not the password we sent; %d tries left", left)
			}
			if err := tx.UpdateEnrolment(ctx, &en); err != nil {
				return err
			}
			return e.audit(ctx, tx, d.TenantID, "device:"+d.ID, AuditRegistrationFailed, f.SID,
				map[string]string{"enrolment": en.ID, "attempts": fmt.Sprint(en.Attempts)})
		}
		c, err := tx.Contact(ctx, d.TenantID, en.ContactID)
		if err != nil {
			return err
		}
		actor := "enduser:" + en.Email
		if _, err := e.bind(ctx, tx, d, f.SID, c, BindRegister, actor); err != nil {
			return err
		}
		now := e.Now()
		en.State, en.DoneAt = EnrolmentDone, now
		if err := tx.UpdateEnrolment(ctx, &en); err != nil {
			return err
		}
		if err := tx.UseTrayForm(ctx, f.TenantID, f.ID, now); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, d.TenantID, actor, AuditEnrolmentConfirmed, f.SID,
			map[string]string{"enrolment": en.ID, "contact": c.ID, "client": d.ClientID, "device": d.ID, "how": string(BindRegister)}); err != nil {
			return err
		}
		v = TrayFormView{Purpose: f.Purpose, Device: d.Name, Bound: true, Contact: c.Name()}
		return nil
	})
	if err == nil && wrong != nil {
		err = wrong
	}
	return v, err
}
