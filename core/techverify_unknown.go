package core

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// An unknown caller (issue 18 item 2): a #verify from a number that is on
// file for no contact gets no code, only a generic line, and is listed in
// the inbox. A technician who is on the phone with that person may match
// the request to a contact — a code then goes to the number and the check
// goes on as for a known number, claimed by that technician — or dismiss
// it. Both are audited with who, and both are conditional updates of a
// request that is still unknown, so two technicians cannot both act on it.
//
// The match does not add the number to the contact. A number a caller
// texts from proves nothing about them (security.md §6), and a number on
// file is what end-user verification sends codes to: adding one on a
// technician's say-so would give whoever holds that phone the contact's
// identity. The number is tied to the contact for this one check only.

// TechVerifyDismissed is an unknown caller's request a technician
// dismissed: not one of the tenant's contacts, or not wanted.
const TechVerifyDismissed TechVerifyStatus = "dismissed"

// TechVerifyMatchWindow is how long after an unknown caller's #verify a
// technician may match it: the caller is on the phone now, and a code to a
// number that texted long ago would be a surprise to whoever has it.
const TechVerifyMatchWindow = 15 * time.Minute

// Audit actions of an unknown caller's request.
const (
	AuditTechVerifyMatched   = "techverify.matched"   // a technician tied an unknown caller to a contact; a code went out
	AuditTechVerifyDismissed = "techverify.dismissed" // a technician dismissed an unknown caller's request
)

// MatchTechVerify ties the unknown caller's request id to contact
// contactID on technician tech's word, texts the number a code, and
// returns the code for tech to read out (the request is claimed by tech).
func (e *Engine) MatchTechVerify(ctx context.Context, tech Technician, id, contactID string) (string, error) {
	var code string
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		r, err := e.unknownTechVerify(ctx, tx, tech, id)
		if err != nil {
			return err
		}
		if now.Sub(r.CreatedAt) > TechVerifyMatchWindow {
			return Errorf(KindConflict, "this #verify is more than %d minutes old; ask the caller to text #verify again", int(TechVerifyMatchWindow/time.Minute))
		}
		contact, err := tx.Contact(ctx, tech.TenantID, contactID)
		if err != nil {
			return err
		}
		tenant, err := tx.Tenant(ctx, tech.TenantID)
		if err != nil {
			return err
		}
		if err := e.techVerifyCanText(ctx, tx, tenant, r.Phone); err != nil {
			return err
		}
		sent, err := tx.CountTechVerifies(ctx, tech.TenantID, r.Phone, now.Add(-time.Hour), true)
		if err != nil {
			return err
		}
		if sent >= TechVerifyCodesPerHour {
			return Errorf(KindRateLimited, "this number was sent %d codes in the last hour; ask the caller to wait, or check them another way", sent)
		}
		plain, err := newCode(e.cfg.Rand, techVerifyCodeDigits)
		if err != nil {
			return err
		}
		r.Status, r.ContactID, r.ClientID, r.Matches = TechVerifyOpen, contact.ID, contact.ClientID, 1
		r.Provenance = "matched by " + tech.Name
		r.ClaimedBy, r.ClaimedAt, r.ExpiresAt, r.ClosedAt, r.Detail = tech.ID, now, now.Add(TechVerifyTTL), time.Time{}, ""
		r.CodeHash = codeHash(e.cfg.CodeKey, r.ID, techVerifyChannel, plain)
		if r.CodeSealed, err = e.cfg.Sealer.Seal([]byte(plain), techVerifyAAD(r.TenantID, r.ID)); err != nil {
			return fmt.Errorf("core: seal code: %w", err)
		}
		if err := resolveUnknown(ctx, tx, &r); err != nil {
			return err
		}
		msg := Outbound{Kind: OutboxSMS, To: r.Phone, From: r.Number, Text: techVerifyCodeText(tenant.DisplayName(), plain)}
		if err := e.queueNotice(ctx, tx, tech.TenantID, msg, now); err != nil {
			return err
		}
		if err := tx.RecordTechVerifyReply(ctx, tech.TenantID, r.Phone, tvReplyCode, now); err != nil {
			return err
		}
		code = spaceCode(plain)
		return e.audit(ctx, tx, tech.TenantID, techActor(tech.ID), AuditTechVerifyMatched, r.ID,
			map[string]string{"contact": contact.ID, "client": contact.ClientID, "phone": MaskDestination(DestPhone, r.Phone)})
	})
	if err == nil {
		e.Wake()
		e.techVerifyChanged(ctx, tech.TenantID)
	}
	return code, err
}

// DismissTechVerify closes the unknown caller's request id: tech says it
// is not one of the tenant's contacts. reason is optional, kept in words.
func (e *Engine) DismissTechVerify(ctx context.Context, tech Technician, id, reason string) error {
	reason = strings.TrimSpace(reason)
	if len(reason) > 200 || strings.ContainsAny(reason, "\r\n\t") {
		return Errorf(KindInvalid, "say why in one line of at most 200 characters")
	}
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		r, err := e.unknownTechVerify(ctx, tx, tech, id)
		if err != nil {
			return err
		}
		r.Status, r.Detail = TechVerifyDismissed, "dismissed by "+tech.Name
		if reason != "" {
			r.Detail += ": " + reason
		}
		if err := resolveUnknown(ctx, tx, &r); err != nil {
			return err
		}
		return e.audit(ctx, tx, tech.TenantID, techActor(tech.ID), AuditTechVerifyDismissed, r.ID, map[string]string{"reason": reason})
	})
	if err == nil {
		e.techVerifyChanged(ctx, tech.TenantID)
	}
	return err
}

// unknownTechVerify reads request id of tech's tenant and checks that it
// is an unknown caller's, still to be acted on.
func (e *Engine) unknownTechVerify(ctx context.Context, tx Tx, tech Technician, id string) (TechVerifyRequest, error) {
	if tech.Role == RolePodOnly {
		return TechVerifyRequest{}, Errorf(KindForbidden, "pod-only technicians cannot act on technician checks")
	}
	r, err := tx.TechVerify(ctx, tech.TenantID, id)
	if err != nil {
		return r, err
	}
	if r.Status != TechVerifyUnknown {
		return r, Errorf(KindConflict, "this request is %s: only an unknown caller's request can be matched or dismissed", r.Status)
	}
	return r, nil
}

// resolveUnknown writes r over the unknown request it was, or reports a
// conflict when another technician acted on it first.
func resolveUnknown(ctx context.Context, tx Tx, r *TechVerifyRequest) error {
	done, err := tx.ResolveUnknownTechVerify(ctx, r)
	if err != nil {
		return err
	}
	if !done {
		return Errorf(KindConflict, "another technician acted on this request first")
	}
	return nil
}

// techVerifyCanText refuses (KindInvalid, saying why) a code to a number
// that opted out of SMS or is outside the tenant's SMS countries: for a
// #verify from it and for a technician's match alike.
func (e *Engine) techVerifyCanText(ctx context.Context, tx Tx, tenant Tenant, phone string) error {
	settings, err := e.channelSettings(ctx, tx, tenant.ID)
	if err != nil {
		return err
	}
	out, err := smsOptedOut(ctx, tx, tenant.ID, phone)
	if err != nil {
		return err
	}
	if out {
		return Errorf(KindInvalid, "this number opted out of SMS (it texted STOP), so no code can go to it; check the caller another way")
	}
	if settings.CountryOf(phone) == "" || !settings.AllowsSMS(tenant, phone) {
		return Errorf(KindInvalid, "this number is outside the countries SMS may go to (Settings › Channels); check the caller another way")
	}
	return nil
}

// techVerifyCodeText is the text that gives the end user their code.
func techVerifyCodeText(msp, code string) string {
	return fmt.Sprintf("%s: your code is %s. Ask the person who says they are from %s to read it to you; "+
		"if they cannot, hang up. Reply #confirm when it matches. Expires in %d minutes. Reply STOP to opt out.",
		msp, spaceCode(code), msp, int(TechVerifyTTL/time.Minute))
}
