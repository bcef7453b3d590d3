package core

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Binding by a first ticket (issue 16, binding (a)): a Windows user whom
// no contact is bound to logs a ticket from the tray with a name and an
// e-mail address. The address must be one contact's of the device's client;
// an e-mail "Confirmation required for ticket" goes to it, and only the
// click on its link (a 256-bit token, stored as SHA-256, single use, 24
// hours) binds the user's SID to the contact and sends the ticket to the
// PSA. An address no contact has, but at the client's most common contact
// domain, is a person the PSA does not know yet: after the same click a
// contact is made for them, locally and then in the PSA (OutboxPSAContact),
// and the ticket follows for it. A bound user's tickets go to the PSA at
// once. The SID comes from the
// agent's service, which takes it from the pipe's client token, never from
// what the user typed.

// Limits of a ticket logged from the tray.
const (
	enrolmentTTL       = 24 * time.Hour
	enrolmentsPerHour  = 3 // per user of a client: each one sends an e-mail
	maxTicketSummary   = 100
	maxTicketDetails   = 4000
	maxEnrolmentName   = 100
	ticketFromTrayHint = "Logged from the Countersign tray"
)

// Audit actions of first-ticket bindings.
const (
	AuditEnrolmentRequested = "enrolment.requested"
	AuditEnrolmentConfirmed = "enrolment.confirmed"
	AuditEnrolmentRefused   = "enrolment.refused"
	AuditBindingConfirmed   = "binding.confirmed"
	AuditTicketQueued       = "psa_ticket.queued"
)

// TrayTicket is a ticket a user logs from the tray. FirstName, LastName and
// Email are asked only of a user who is not bound yet.
type TrayTicket struct {
	SID       string
	FirstName string
	LastName  string
	Email     string
	Summary   string
	Details   string
}

// TrayTicketResult says what became of a TrayTicket: "logged" (queued for
// the PSA for the bound contact) or "confirm" (an e-mail to confirm went
// out; the ticket waits for the click).
type TrayTicketResult struct {
	State   string
	Contact string // the bound contact's name, when logged
	Email   string // where the confirmation went, when confirm
}

// cleanLine checks one line of user input: trimmed, at most max runes,
// valid UTF-8, no control characters.
func cleanLine(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", Errorf(KindInvalid, "%s is required", field)
	case !utf8.ValidString(s):
		return "", Errorf(KindInvalid, "%s is not valid text", field)
	case utf8.RuneCountInString(s) > max:
		return "", Errorf(KindInvalid, "%s is longer than %d characters", field, max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", Errorf(KindInvalid, "%s must be one line", field)
	}
	return s, nil
}

func (in TrayTicket) clean(bound bool) (TrayTicket, error) {
	var err error
	if in.Summary, err = cleanLine("the summary", in.Summary, maxTicketSummary, true); err != nil {
		return in, err
	}
	in.Details = strings.TrimSpace(in.Details)
	if !utf8.ValidString(in.Details) || utf8.RuneCountInString(in.Details) > maxTicketDetails {
		return in, Errorf(KindInvalid, "the description is longer than %d characters or not valid text", maxTicketDetails)
	}
	if bound {
		return in, nil
	}
	if in.FirstName, err = cleanLine("your first name", in.FirstName, maxEnrolmentName, true); err != nil {
		return in, err
	}
	if in.LastName, err = cleanLine("your last name", in.LastName, maxEnrolmentName, true); err != nil {
		return in, err
	}
	if in.Email, err = NormalizeEmail(in.Email); err != nil {
		return in, Errorf(KindInvalid, "give your work e-mail address, e.g. pat@contoso.com")
	}
	return in, nil
}

// logTrayTicket logs a ticket a user of device d sent from the tray's form,
// inside tx; refused reports an address that matched no one, which the
// caller audits after the rollback.
func (e *Engine) logTrayTicket(ctx context.Context, tx Tx, d Device, in TrayTicket) (res TrayTicketResult, refused bool, err error) {
	if !e.seenOn(ctx, tx, d, in.SID) {
		return res, false, Errorf(KindNotFound, "this Windows user has not been reported by the agent yet; try again in a minute")
	}
	client, err := tx.Client(ctx, d.TenantID, d.ClientID)
	if err != nil {
		return res, false, err
	}
	integ, err := e.ticketIntegration(ctx, tx, client)
	if err != nil {
		return res, false, err
	}
	now := e.Now()
	b, err := tx.Binding(ctx, d.TenantID, d.ClientID, in.SID)
	if err != nil && !isNotFound(err) {
		return res, false, err
	}
	if err == nil && b.State == BindingConfirmed {
		if in, err = in.clean(true); err != nil {
			return res, false, err
		}
		c, err := tx.Contact(ctx, d.TenantID, b.ContactID)
		if err != nil {
			return res, false, err
		}
		return TrayTicketResult{State: "logged", Contact: c.Name()}, false,
			e.queuePSATicket(ctx, tx, client, integ, c, in, "device:"+d.ID, now)
	}
	if in, err = in.clean(false); err != nil {
		return res, false, err
	}
	recent, err := tx.UserEnrolments(ctx, d.TenantID, d.ClientID, in.SID, now.Add(-time.Hour))
	if err != nil {
		return res, false, err
	}
	if len(recent) >= enrolmentsPerHour {
		return res, false, Errorf(KindRateLimited, "you asked for %d confirmation e-mails in the last hour; use the newest one or call the service desk", len(recent))
	}
	c, err := e.enrolmentContact(ctx, tx, client, in.Email)
	if errors.Is(err, errNoSuchContact) {
		// No contact has the address, but it is at the client's usual
		// domain: the contact is created in the PSA once the e-mail is
		// proved (ContactID "" until then).
		var usual bool
		if usual, err = e.usualDomain(ctx, tx, client, in.Email); err == nil && !usual {
			err = Errorf(KindInvalid, "%s is not an address your IT provider has for %s; use your work e-mail or call the service desk", in.Email, client.Name)
		}
	}
	if err != nil {
		return res, ErrorKind(err) == KindInvalid, err
	}
	// Earlier pending confirmations of this user are superseded: only the
	// newest link binds.
	for _, old := range recent {
		if old.State == EnrolmentPending {
			old.State = EnrolmentSuperseded
			if err := tx.UpdateEnrolment(ctx, &old); err != nil {
				return res, false, err
			}
		}
	}
	token, err := newLinkToken(e.cfg.Rand)
	if err != nil {
		return res, false, err
	}
	en := Enrolment{TenantID: d.TenantID, ClientID: d.ClientID, DeviceID: d.ID, SID: in.SID, How: BindFirstTicket,
		State: EnrolmentPending, FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, ContactID: c.ID,
		IntegrationID: integ.ID, Summary: in.Summary, Details: in.Details, SecretHash: LinkTokenHash(token),
		CreatedAt: now, ExpiresAt: now.Add(enrolmentTTL)}
	if err := tx.CreateEnrolment(ctx, &en); err != nil {
		return res, false, err
	}
	tenant, err := tx.Tenant(ctx, d.TenantID)
	if err != nil {
		return res, false, err
	}
	link := strings.TrimRight(e.cfg.PublicURL, "/") + "/e/" + url.PathEscape(token)
	msg := Outbound{Kind: OutboxEmail, To: in.Email, Subject: "Confirmation required for ticket: " + in.Summary,
		Text: fmt.Sprintf("Hello %s,\n\nYou logged a ticket with %s from the computer %s:\n\n  %s\n\n"+
			"To confirm that this is you and send the ticket, open this link within 24 hours:\n\n  %s\n\n"+
			"If you did not log this ticket, ignore this e-mail: nothing is sent without the click.\n",
			in.FirstName, tenant.Name, d.Name, in.Summary, link)}
	item := OutboxItem{ID: NewID("obx"), TenantID: d.TenantID, Kind: OutboxEmail, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.DevDelivery || e.cfg.Senders[OutboxEmail] == nil}
	if err := e.sealAndEnqueue(ctx, tx, &item, msg, 0); err != nil {
		return res, false, err
	}
	detail := map[string]string{"enrolment": en.ID, "client": d.ClientID, "device": d.ID, "contact": c.ID, "how": string(BindFirstTicket)}
	if c.ID == "" {
		detail["new_contact"] = in.Email
	}
	return TrayTicketResult{State: "confirm", Email: in.Email}, false,
		e.audit(ctx, tx, d.TenantID, "device:"+d.ID, AuditEnrolmentRequested, in.SID, detail)
}

// usualDomain reports whether email is at client's most common contact
// domain: the one more of its contacts have an address at than at any
// other. A tie names no usual domain, nor does a client without addresses,
// and a public mailbox provider's domain is never one (isPublicMailDomain).
func (e *Engine) usualDomain(ctx context.Context, tx Tx, client Client, email string) (bool, error) {
	counts, err := tx.ClientEmailDomains(ctx, client.TenantID, client.ID)
	if err != nil {
		return false, err
	}
	best, n, tie := "", 0, false
	for d, c := range counts {
		if isPublicMailDomain(d) {
			continue
		}
		switch {
		case c > n:
			best, n, tie = d, c, false
		case c == n:
			tie = true
		}
	}
	return n > 0 && !tie && strings.EqualFold(email[strings.LastIndexByte(email, '@')+1:], best), nil
}

// auditEnrolmentRefused records a refused enrolment outside the refused request's
// rolled-back transaction.
func (e *Engine) auditEnrolmentRefused(ctx context.Context, d Device, sid string, why error) {
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		return e.audit(ctx, tx, d.TenantID, "device:"+d.ID, AuditEnrolmentRefused, sid,
			map[string]string{"client": d.ClientID, "device": d.ID, "reason": ErrorMessage(why)})
	})
	if err != nil {
		e.log.Error("could not audit a refused enrolment", "tenant", d.TenantID, "device", d.ID, "err", err)
	}
}

// errNoSuchContact marks enrolmentContact's "no contact has the address".
var errNoSuchContact = errors.New("no contact has the address")

// enrolmentContact is the one contact of client whose e-mail is email.
func (e *Engine) enrolmentContact(ctx context.Context, tx Tx, client Client, email string) (Contact, error) {
	cs, err := tx.SearchContacts(ctx, client.TenantID, ContactQuery{ClientID: client.ID, Email: email, Limit: 2})
	if err != nil {
		return Contact{}, err
	}
	switch len(cs) {
	case 1:
		return cs[0], nil
	case 0:
		return Contact{}, fmt.Errorf("%w: %w", errNoSuchContact,
			Errorf(KindInvalid, "%s is not an address your IT provider has for %s; use your work e-mail or call the service desk", email, client.Name))
	}
	return Contact{}, Errorf(KindInvalid, "more than one person at %s has %s; call the service desk to be set up", client.Name, email)
}

// ticketIntegration is the PSA integration a client's tickets go to: the
// tenant's integration of the client's PSA.
func (e *Engine) ticketIntegration(ctx context.Context, tx Tx, client Client) (Integration, error) {
	if client.PSAKind == "" {
		return Integration{}, Errorf(KindInvalid, "%s is not in a PSA, so there is nowhere to log a ticket; call the service desk", client.Name)
	}
	ins, err := tx.ListIntegrations(ctx, client.TenantID)
	if err != nil {
		return Integration{}, err
	}
	for _, in := range ins {
		if in.Kind == client.PSAKind {
			return in, nil
		}
	}
	return Integration{}, Errorf(KindInvalid, "%s's PSA is not connected any more; call the service desk", client.Name)
}

// trayTicketText is the description of a ticket from the tray: the user's
// words and where they came from.
func trayTicketText(details string) string {
	if details != "" {
		details += "\n\n"
	}
	return details + ticketFromTrayHint
}

// queuePSATicket writes a ticket for contact c to the outbox (the PSA may
// be down; the outbox retries) and audits it.
func (e *Engine) queuePSATicket(ctx context.Context, tx Tx, client Client, integ Integration, c Contact, in TrayTicket, actor string, now time.Time) error {
	msg := Outbound{Kind: OutboxPSATicket, Tenant: client.TenantID, Integration: integ.ID, CompanyRef: client.PSARef,
		ContactRef: c.PSARef, Subject: in.Summary, Text: trayTicketText(in.Details)}
	item := OutboxItem{ID: NewID("obx"), TenantID: client.TenantID, Kind: OutboxPSATicket, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.Senders[OutboxPSATicket] == nil}
	if err := e.sealAndEnqueue(ctx, tx, &item, msg, 0); err != nil {
		return err
	}
	return e.audit(ctx, tx, client.TenantID, actor, AuditTicketQueued, in.SID,
		map[string]string{"contact": c.ID, "client": client.ID, "integration": integ.ID, "outbox": item.ID})
}

// EnrolmentView is what the confirmation page shows.
type EnrolmentView struct {
	Tenant  string // the MSP's name
	Client  string
	Name    string
	Summary string
	Device  string
	State   EnrolmentState
	Expired bool
}

// EnrolmentForToken returns what the confirmation page for token shows; it changes
// nothing. An unknown token is ErrNotFound.
func (e *Engine) EnrolmentForToken(ctx context.Context, token string) (EnrolmentView, error) {
	var v EnrolmentView
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		en, _, err := e.enrolmentForToken(ctx, tx, token)
		if err != nil {
			return err
		}
		v, err = e.enrolmentView(ctx, tx, en)
		return err
	})
	return v, err
}

func (e *Engine) enrolmentForToken(ctx context.Context, tx Tx, token string) (Enrolment, bool, error) {
	if token == "" || len(token) > 64 {
		return Enrolment{}, false, ErrNotFound
	}
	en, err := tx.EnrolmentBySecret(ctx, LinkTokenHash(token))
	if err != nil {
		if isNotFound(err) {
			return Enrolment{}, false, Errorf(KindNotFound, "this link is not known; log the ticket again from the tray")
		}
		return Enrolment{}, false, err
	}
	return en, !e.Now().Before(en.ExpiresAt), nil
}

func (e *Engine) enrolmentView(ctx context.Context, tx Tx, en Enrolment) (EnrolmentView, error) {
	t, err := tx.Tenant(ctx, en.TenantID)
	if err != nil {
		return EnrolmentView{}, err
	}
	c, err := tx.Client(ctx, en.TenantID, en.ClientID)
	if err != nil {
		return EnrolmentView{}, err
	}
	d, err := tx.Device(ctx, en.TenantID, en.DeviceID)
	if err != nil {
		return EnrolmentView{}, err
	}
	return EnrolmentView{Tenant: t.Name, Client: c.Name, Name: strings.TrimSpace(en.FirstName + " " + en.LastName),
		Summary: en.Summary, Device: d.Name, State: en.State, Expired: !e.Now().Before(en.ExpiresAt)}, nil
}

// ConfirmEnrolment is the click on a confirmation link: the user's SID is
// bound to the contact and the ticket goes to the PSA, once. A link used,
// superseded or expired binds nothing and says so.
func (e *Engine) ConfirmEnrolment(ctx context.Context, token string) (EnrolmentView, error) {
	var v EnrolmentView
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		en, expired, err := e.enrolmentForToken(ctx, tx, token)
		if err != nil {
			return err
		}
		switch {
		case en.State == EnrolmentDone:
			return Errorf(KindGone, "this ticket was already confirmed and sent")
		case en.State != EnrolmentPending:
			return Errorf(KindGone, "a newer confirmation e-mail replaced this one; use the newest link")
		case expired:
			return Errorf(KindGone, "this link has expired; log the ticket again from the tray")
		}
		d, err := tx.Device(ctx, en.TenantID, en.DeviceID)
		if err != nil {
			return err
		}
		if !d.RevokedAt.IsZero() {
			return Errorf(KindGone, "the computer %s was removed from Countersign; call the service desk", d.Name)
		}
		client, err := tx.Client(ctx, en.TenantID, en.ClientID)
		if err != nil {
			return err
		}
		integ, err := tx.Integration(ctx, en.TenantID, en.IntegrationID)
		if err != nil {
			return err
		}
		actor := "enduser:" + en.Email
		c, create, err := e.confirmedContact(ctx, tx, client, en, actor)
		if err != nil {
			return err
		}
		if _, err := e.bind(ctx, tx, d, en.SID, c, BindFirstTicket, actor); err != nil {
			return err
		}
		now := e.Now()
		en.State, en.DoneAt = EnrolmentDone, now
		if err := tx.UpdateEnrolment(ctx, &en); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, en.TenantID, actor, AuditEnrolmentConfirmed, en.SID,
			map[string]string{"enrolment": en.ID, "contact": c.ID, "client": en.ClientID, "device": en.DeviceID}); err != nil {
			return err
		}
		ticket := TrayTicket{SID: en.SID, Summary: en.Summary, Details: en.Details}
		if create {
			err = e.queuePSAContact(ctx, tx, client, integ, c, en.Email, ticket, actor, now)
		} else {
			err = e.queuePSATicket(ctx, tx, client, integ, c, ticket, actor, now)
		}
		if err != nil {
			return err
		}
		v, err = e.enrolmentView(ctx, tx, en)
		return err
	})
	return v, err
}

// confirmedContact is the contact a confirmed enrolment binds to. One that
// named no contact (its address was only at the client's usual domain)
// gets a new local contact, which create reports: it is still to be made
// in the PSA. Should the address have reached a contact since the e-mail
// went out (a technician added it), that contact is the one.
func (e *Engine) confirmedContact(ctx context.Context, tx Tx, client Client, en Enrolment, actor string) (c Contact, create bool, err error) {
	if en.ContactID != "" {
		c, err = tx.Contact(ctx, en.TenantID, en.ContactID)
		return c, false, err
	}
	c, err = e.enrolmentContact(ctx, tx, client, en.Email)
	if !errors.Is(err, errNoSuchContact) {
		return c, false, err
	}
	c, err = e.createContact(ctx, tx, en.TenantID, actor, "agent", NewContact{ClientID: client.ID, FirstName: en.FirstName, LastName: en.LastName,
		Emails: []NewDestination{{Value: en.Email, Default: true}}}, time.Time{})
	return c, true, err
}

// Audit actions of contacts made in a PSA for a first ticket.
const (
	AuditPSAContactQueued  = "psa_contact.queued"
	AuditPSAContactCreated = "psa_contact.created"
	AuditPSAContactFailed  = "psa_contact.failed"
)

// queuePSAContact writes to the outbox the creation in the PSA of c, a
// contact made for a first ticket, with the ticket to log for it once it
// exists (see psaContactDone), and audits it.
func (e *Engine) queuePSAContact(ctx context.Context, tx Tx, client Client, integ Integration, c Contact, email string, in TrayTicket, actor string, now time.Time) error {
	msg := Outbound{Kind: OutboxPSAContact, Tenant: client.TenantID, Integration: integ.ID, CompanyRef: client.PSARef,
		To: email, FirstName: c.FirstName, LastName: c.LastName, ContactID: c.ID, SID: in.SID,
		Subject: in.Summary, Text: trayTicketText(in.Details)}
	item := OutboxItem{ID: NewID("obx"), TenantID: client.TenantID, Kind: OutboxPSAContact, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.Senders[OutboxPSAContact] == nil}
	if err := e.sealAndEnqueue(ctx, tx, &item, msg, 0); err != nil {
		return err
	}
	return e.audit(ctx, tx, client.TenantID, actor, AuditPSAContactQueued, c.ID,
		map[string]string{"sid": in.SID, "client": client.ID, "integration": integ.ID, "outbox": item.ID})
}

// psaContactDone follows up, in tx, an OutboxPSAContact item that is done
// or dead. The contact the PSA created (or already had under that address)
// becomes the PSA mirror of the local one, and the ticket is queued for
// it; the contact being known to the PSA before the ticket step is what
// makes a retry of that step create no second contact. A contact the PSA
// refused still gets its ticket, under the company with the person's name
// and address in the description, so that what the user logged is not
// lost.
func (e *Engine) psaContactDone(ctx context.Context, tx Tx, it OutboxItem, ref string, sendErr error) error {
	m := it.sent
	if m == nil {
		return nil // the payload could not be read: finishItem recorded why
	}
	now := e.Now()
	ticket := Outbound{Kind: OutboxPSATicket, Tenant: m.Tenant, Integration: m.Integration, CompanyRef: m.CompanyRef,
		Subject: m.Subject, Text: m.Text}
	contactID := m.ContactID
	psaRef, ok := strings.CutPrefix(ref, "contact:")
	switch {
	case sendErr == nil && ok && psaRef != "":
		var err error
		if contactID, err = e.adoptPSARef(ctx, tx, it.TenantID, m, psaRef, now); err != nil {
			return err
		}
		ticket.ContactRef = psaRef
		if err := e.audit(ctx, tx, it.TenantID, "system", AuditPSAContactCreated, contactID,
			map[string]string{"psa_ref": psaRef, "outbox": it.ID, "sid": m.SID}); err != nil {
			return err
		}
	case sendErr != nil:
		ticket.Text = fmt.Sprintf("Logged by %s %s <%s>, who could not be added as a contact: %s\n\n%s",
			m.FirstName, m.LastName, m.To, DeliveryReason(sendErr), m.Text)
		if err := e.audit(ctx, tx, it.TenantID, "system", AuditPSAContactFailed, contactID,
			map[string]string{"reason": DeliveryReason(sendErr), "outbox": it.ID, "sid": m.SID}); err != nil {
			return err
		}
	}
	item := OutboxItem{ID: NewID("obx"), TenantID: it.TenantID, Kind: OutboxPSATicket, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: it.Dev || e.cfg.Senders[OutboxPSATicket] == nil}
	if err := e.sealAndEnqueue(ctx, tx, &item, ticket, 0); err != nil {
		return err
	}
	return e.audit(ctx, tx, it.TenantID, "system", AuditTicketQueued, m.SID,
		map[string]string{"contact": contactID, "integration": m.Integration, "outbox": item.ID})
}

// adoptPSARef records psaRef as the PSA id of the local contact m made,
// and returns the local contact that now stands for it: when a mirror of
// psaRef appeared meanwhile (a pod loaded it), the user's binding moves to
// that mirror and the placeholder is deleted, so that one PSA contact has
// one local copy.
func (e *Engine) adoptPSARef(ctx context.Context, tx Tx, tenantID string, m *Outbound, psaRef string, now time.Time) (string, error) {
	c, err := tx.Contact(ctx, tenantID, m.ContactID)
	if isNotFound(err) {
		return m.ContactID, nil // deleted by hand since: nothing to record
	}
	if err != nil || c.PSARef != "" {
		return c.ID, err
	}
	in, err := tx.Integration(ctx, tenantID, m.Integration)
	if err != nil && !isNotFound(err) {
		return "", err
	}
	if err == nil {
		found, err := tx.SearchContacts(ctx, tenantID, ContactQuery{PSAKind: in.Kind, PSARef: psaRef, Limit: 1})
		if err != nil {
			return "", err
		}
		if len(found) == 1 && found[0].ID != c.ID {
			mirror := found[0]
			if b, err := tx.Binding(ctx, tenantID, c.ClientID, m.SID); err == nil && b.ContactID == c.ID {
				b.ContactID = mirror.ID
				if err := tx.PutBinding(ctx, &b); err != nil {
					return "", err
				}
			} else if err != nil && !isNotFound(err) {
				return "", err
			}
			c.DeletedAt, c.UpdatedAt = now, now
			return mirror.ID, tx.UpdateContact(ctx, &c)
		}
	}
	c.PSARef, c.SyncedAt, c.UpdatedAt = psaRef, now, now
	return c.ID, tx.UpdateContact(ctx, &c)
}
