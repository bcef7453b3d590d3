package core

import (
	"context"
	"fmt"
	"strings"
)

// Technician verification from the end-user page ("Verify my technician",
// /v/{tenant}, reached from a link the MSP gives its users): the same
// check as texting #verify, for someone who would rather type than text.
// The user types their mobile number; when it is on file for a contact, a
// request opens exactly as for #verify and the code goes to that number by
// SMS (never onto the page: whoever typed the number may not hold it), to
// the on-call technicians and into the inbox. The technician reads the
// code out; the user types the code they were texted back into the page,
// which is #confirm with the code. A number on file for no one gets the
// same page and nothing else: no text, no request. The SMS rate limits of
// #verify apply (per number and per tenant), and the web layer limits
// wrong codes per client address.

// TechVerifyPageStart is what the page shows after the number.
type TechVerifyPageStart struct {
	Phone  string // E.164, carried to the code step
	Masked string // the number as the page shows it
}

// StartTechVerifyOnPage is #verify for phone, typed on tenant tenantSlug's
// end-user page. Its answer is the same whether or not the number is on
// file; only a number that is not one (KindInvalid) or a tenant that does
// not take technician checks (KindUnavailable) is an error.
func (e *Engine) StartTechVerifyOnPage(ctx context.Context, tenantSlug, phone string) (TechVerifyPageStart, error) {
	tenant, settings, err := e.techVerifyPageTenant(ctx, tenantSlug)
	if err != nil {
		return TechVerifyPageStart{}, err
	}
	if phone, err = NormalizePhone(strings.TrimSpace(phone), tenant.Region()); err != nil {
		return TechVerifyPageStart{}, Errorf(KindInvalid, "type your mobile number, with its country code if it is not a %s number", tenant.Region())
	}
	in := e.techVerifyPageText(tenant, settings, phone, SMSKeywordVerify, "")
	changed := false
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		tv := techVerifyTx{e: e, tx: tx, in: in, now: e.Now(), actor: "page:" + MaskDestination(DestPhone, phone), onPage: true}
		on, err := tv.enabled(ctx)
		if err != nil {
			return err
		}
		if !on {
			return errTechVerifyOff(tenant)
		}
		reply, err := tv.verify(ctx)
		changed = tv.changed
		if err != nil || reply == "" {
			return err
		}
		// The code goes to the number, never onto the page.
		return e.queueNotice(ctx, tx, tenant.ID, Outbound{Kind: OutboxSMS, To: phone, From: settings.Twilio.Number, Text: reply}, tv.now)
	})
	if err != nil {
		return TechVerifyPageStart{}, fmt.Errorf("core: technician check from the end-user page: %w", err)
	}
	if changed {
		e.techVerifyChanged(ctx, tenant.ID)
	}
	e.Wake()
	return TechVerifyPageStart{Phone: phone, Masked: MaskDestination(DestPhone, phone)}, nil
}

// ErrTechVerifyPageCode is ConfirmTechVerifyOnPage's answer to a code that
// does not match: the web layer counts these against the client address.
var ErrTechVerifyPageCode = Errorf(KindInvalid, "that is not the code we texted you; check the text message and type it again")

// TechVerifyPageResult is the page's last step.
type TechVerifyPageResult struct {
	Text      string // in words: done, expired, no open check, too many wrong codes
	Confirmed bool
}

// ConfirmTechVerifyOnPage is "#confirm code" from phone, typed on the
// end-user page: the code is required (typing it proves the phone, as
// texting from it does). A wrong code is ErrTechVerifyPageCode.
func (e *Engine) ConfirmTechVerifyOnPage(ctx context.Context, tenantSlug, phone, code string) (TechVerifyPageResult, error) {
	tenant, settings, err := e.techVerifyPageTenant(ctx, tenantSlug)
	if err != nil {
		return TechVerifyPageResult{}, err
	}
	if !isE164(phone) {
		return TechVerifyPageResult{}, Errorf(KindInvalid, "start again: the page lost your number")
	}
	if code = normalizeCode(code); !isDigits(code, techVerifyCodeDigits) {
		return TechVerifyPageResult{}, Errorf(KindInvalid, "type the %d-digit code we texted you", techVerifyCodeDigits)
	}
	in := e.techVerifyPageText(tenant, settings, phone, SMSKeywordConfirm, code)
	var (
		reply     string
		wrong     bool
		confirmed bool
		changed   bool
	)
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		tv := techVerifyTx{e: e, tx: tx, in: in, now: e.Now(), actor: "page:" + MaskDestination(DestPhone, phone), onPage: true}
		before, err := tx.OpenTechVerifies(ctx, tenant.ID, phone)
		if err != nil {
			return err
		}
		if reply, err = tv.confirm(ctx); err != nil {
			return err
		}
		changed = tv.changed
		// A wrong code leaves the request open with one attempt more.
		if len(before) == 1 {
			after, err := tx.TechVerify(ctx, tenant.ID, before[0].ID)
			if err != nil {
				return err
			}
			wrong = after.Status == TechVerifyOpen && after.Attempts > before[0].Attempts
			confirmed = after.Status == TechVerifyConfirmed
		}
		return nil
	})
	if err != nil {
		return TechVerifyPageResult{}, fmt.Errorf("core: technician check from the end-user page: %w", err)
	}
	if changed {
		e.techVerifyChanged(ctx, tenant.ID)
	}
	if wrong {
		return TechVerifyPageResult{}, ErrTechVerifyPageCode
	}
	if reply == "" {
		// The reply budget ran out: say the same as for no open check.
		reply = fmt.Sprintf("%s: there is no open technician check for this number. Start again.", tenant.DisplayName())
	}
	return TechVerifyPageResult{Text: reply, Confirmed: confirmed}, nil
}

func (e *Engine) techVerifyPageTenant(ctx context.Context, slug string) (Tenant, ChannelSettings, error) {
	var (
		tenant   Tenant
		settings ChannelSettings
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if tenant, err = tx.TenantBySlug(ctx, slug); err != nil {
			return err
		}
		settings, err = e.channelSettings(ctx, tx, tenant.ID)
		return err
	})
	return tenant, settings, err
}

// techVerifyPageText is the page's answer as the text it stands for. Its
// MessageSid is the page's own ("page" and a new id): it is never a
// Twilio one, so it can never collide with or replay a real text.
func (e *Engine) techVerifyPageText(tenant Tenant, settings ChannelSettings, phone string, kw SMSKeyword, arg string) InboundText {
	return InboundText{Tenant: tenant, Keyword: kw, Argument: arg,
		Message: InboundSMS{MessageSID: NewID("page"), From: phone, To: settings.Twilio.Number}}
}

func errTechVerifyOff(t Tenant) error {
	return Errorf(KindUnavailable, "%s does not take technician checks here yet. If someone says they are calling from %s, "+
		"hang up and call %s on a number you already know.", t.DisplayName(), t.DisplayName(), t.DisplayName())
}
