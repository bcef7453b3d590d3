package core

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/url"
	"strings"
	"time"
)

// Admin consent for the "connect tenant" pop-out (issue 19.2): the MSP's
// admin opens Microsoft's admin-consent page for the customer's tenant,
// the customer's global admin consents to the app, and Microsoft sends the
// browser back to Countersign with the tenant's id and our state.
const (
	// MicrosoftConsentPath is where Microsoft sends the browser back; the
	// redirect URI is always PublicURL + this path, never a request's Host.
	MicrosoftConsentPath = "/app/admin/microsoft/consent"
	// microsoftConsentLife is how long a started consent may come back.
	microsoftConsentLife = 15 * time.Minute
	microsoftLoginURL    = "https://login.microsoftonline.com"
)

// MicrosoftConsentStart is what the pop-out asks for.
type MicrosoftConsentStart struct {
	ClientID string // the MSP's client the tenant is for
	// AppClientID is the application (client) id to consent to: the MSP's
	// multi-tenant app registration.
	AppClientID string
	// Tenant is the customer's tenant (id or domain) when known; ""
	// means "organizations": the admin signs in and Microsoft picks it.
	Tenant string
}

// MicrosoftConsentReturn is what Microsoft sends back (the query of the
// redirect): admin_consent=True&tenant=…&state=…, or error=…&
// error_description=…&state=….
type MicrosoftConsentReturn struct {
	State            string
	AdminConsent     string
	Tenant           string
	Error            string
	ErrorDescription string
}

// StartMicrosoftConsent returns the admin-consent URL for the pop-out and
// keeps (the hash of) its one-use state nonce for actor, audited.
func (e *Engine) StartMicrosoftConsent(ctx context.Context, tenantID, actor string, in MicrosoftConsentStart) (string, error) {
	in.AppClientID = strings.ToLower(strings.TrimSpace(in.AppClientID))
	in.Tenant = strings.ToLower(strings.TrimSpace(in.Tenant))
	switch {
	case in.ClientID == "":
		return "", Errorf(KindInvalid, "a Microsoft 365 tenant is connected for one client: choose the client")
	case !guidRE.MatchString(in.AppClientID):
		return "", Errorf(KindInvalid, "the application (client) id is a GUID")
	case in.Tenant == "":
		in.Tenant = "organizations"
	case !ValidEntraTenant(in.Tenant):
		return "", Errorf(KindInvalid, "the tenant is the customer's Microsoft Entra tenant id (a GUID) or its domain")
	case e.cfg.PublicURL == "":
		return "", Errorf(KindUnavailable, "this server has no public URL for Microsoft to send the admin back to")
	}
	if _, err := e.Client(ctx, tenantID, in.ClientID); err != nil {
		return "", err
	}
	nonce := make([]byte, 32)
	if _, err := io.ReadFull(e.cfg.Rand, nonce); err != nil {
		return "", err
	}
	state := base64.RawURLEncoding.EncodeToString(nonce)
	hash := sha256.Sum256([]byte(state))
	now := e.Now()
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		c := MicrosoftConsent{TenantID: tenantID, StateHash: hash[:], ClientID: in.ClientID, Actor: actor,
			AppClientID: in.AppClientID, CreatedAt: now, ExpiresAt: now.Add(microsoftConsentLife)}
		if err := tx.CreateMicrosoftConsent(ctx, &c); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftConsentStarted, in.ClientID,
			map[string]string{"app": in.AppClientID, "tenant": in.Tenant})
	})
	if err != nil {
		return "", err
	}
	q := url.Values{"client_id": {in.AppClientID}, "redirect_uri": {e.MicrosoftConsentRedirect()}, "state": {state}}
	return microsoftLoginURL + "/" + url.PathEscape(in.Tenant) + "/adminconsent?" + q.Encode(), nil
}

// MicrosoftConsentRedirect is the redirect URI to register on the app.
func (e *Engine) MicrosoftConsentRedirect() string { return e.cfg.PublicURL + MicrosoftConsentPath }

// FinishMicrosoftConsent checks the state Microsoft sent back — issued by
// this server, to this actor, within its life, once — and records the
// answer, audited: the consenting tenant's id, or Microsoft's refusal in
// words. The consent's client and app come from the stored state, never
// from the query.
func (e *Engine) FinishMicrosoftConsent(ctx context.Context, tenantID, actor string, r MicrosoftConsentReturn) (MicrosoftConsent, error) {
	if r.State == "" || len(r.State) > 200 {
		return MicrosoftConsent{}, Errorf(KindInvalid, "the answer from Microsoft has no valid state; start the connection again")
	}
	hash := sha256.Sum256([]byte(r.State))
	var (
		c       MicrosoftConsent
		refusal error
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		refusal = nil
		now := e.Now()
		var err error
		c, err = tx.LockMicrosoftConsent(ctx, tenantID, hash[:])
		switch {
		case isNotFound(err):
			return Errorf(KindInvalid, "this answer from Microsoft was not started here; start the connection again")
		case err != nil:
			return err
		case subtle.ConstantTimeCompare([]byte(c.Actor), []byte(actor)) != 1:
			return Errorf(KindForbidden, "this consent was started by someone else; start the connection again")
		case !c.UsedAt.IsZero():
			return Errorf(KindInvalid, "this answer from Microsoft was used already; start the connection again")
		case !now.Before(c.ExpiresAt):
			return Errorf(KindInvalid, "the consent took longer than %d minutes; start the connection again", int(microsoftConsentLife.Minutes()))
		}
		c.UsedAt = now
		switch {
		case r.Error != "":
			c.Result = ClipRunes(strings.TrimSpace(r.Error+": "+firstLineOf(r.ErrorDescription)), 300, Ellipsis)
			refusal = Errorf(KindInvalid, "Microsoft did not grant consent: %s", c.Result)
			if r.Error == "access_denied" {
				refusal = Errorf(KindInvalid, "the customer's administrator declined the consent (%s)", ClipRunes(firstLineOf(r.ErrorDescription), 200, Ellipsis))
			}
		case !strings.EqualFold(r.AdminConsent, "True"):
			c.Result = "no admin consent in the answer"
			refusal = Errorf(KindInvalid, "Microsoft's answer does not say consent was granted; start the connection again")
		case !guidRE.MatchString(r.Tenant):
			c.Result = "no tenant id in the answer"
			refusal = Errorf(KindInvalid, "Microsoft's answer has no tenant id; start the connection again")
		default:
			c.Result, c.EntraTenant = "granted", strings.ToLower(r.Tenant)
		}
		if err := tx.FinishMicrosoftConsent(ctx, &c); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftConsented, c.ClientID,
			map[string]string{"app": c.AppClientID, "entra_tenant": c.EntraTenant, "result": c.Result})
	})
	if err != nil {
		return MicrosoftConsent{}, err
	}
	return c, refusal
}

// MicrosoftConsented returns a client's newest granted consent (its
// tenant id prefills the connection form).
func (e *Engine) MicrosoftConsented(ctx context.Context, tenantID, clientID string) (MicrosoftConsent, error) {
	var c MicrosoftConsent
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		c, err = tx.LatestMicrosoftConsent(ctx, tenantID, clientID)
		return err
	})
	return c, err
}

func firstLineOf(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
