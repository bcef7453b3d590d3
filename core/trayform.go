package core

import (
	"context"
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

// OpenTrayForm returns the URL of a fresh ticket form for user sid of d.
func (e *Engine) OpenTrayForm(ctx context.Context, d Device, sid string) (string, time.Time, error) {
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
		f := TrayForm{TenantID: d.TenantID, DeviceID: d.ID, SID: sid, TokenHash: LinkTokenHash(token), CreatedAt: now, ExpiresAt: now.Add(trayFormTTL)}
		if err := tx.CreateTrayForm(ctx, &f); err != nil {
			return err
		}
		link = strings.TrimRight(e.cfg.PublicURL, "/") + "/t/" + url.PathEscape(token)
		expires = f.ExpiresAt
		return e.audit(ctx, tx, d.TenantID, "device:"+d.ID, AuditTrayFormOpened, sid, map[string]string{"device": d.ID, "form": f.ID})
	})
	return link, expires, err
}

// TrayFormView is what the ticket form shows.
type TrayFormView struct {
	Tenant  string // the MSP's name
	Client  string
	Device  string
	Bound   bool   // the user is bound: no name or e-mail is asked
	Contact string // the bound contact's name
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
		v = TrayFormView{Tenant: t.Name, Client: c.Name, Device: d.Name}
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
