package core

import (
	"context"
	"errors"
	"fmt"
)

// How the outbox picks a tenant's sender (channels.go): the tenant's own
// account when it has one, else the server's where the operator shares it.

// messageKind reports whether k is delivered through a tenant channel.
func messageKind(k OutboxKind) bool { return k == OutboxSMS || k == OutboxVoice || k == OutboxEmail }

// ownChannel reports whether s holds the tenant's own account for k.
func ownChannel(s ChannelSettings, k OutboxKind) bool {
	if k == OutboxEmail {
		return s.Email.Configured()
	}
	return s.Twilio.Configured()
}

// channelName is how errors name the channel of k.
func channelName(k OutboxKind) string {
	switch k {
	case OutboxEmail:
		return "E-mail"
	case OutboxVoice:
		return "Voice"
	}
	return "SMS"
}

// channelReady refuses a message of kind k for a tenant that has no
// account to send it through: no account of its own, and the operator does
// not share the server's. It reports whether a real sender exists (false:
// the item is kept in the outbox, as in dev delivery).
func (e *Engine) channelReady(ctx context.Context, tx Tx, tenantID string, k OutboxKind) (bool, error) {
	if !messageKind(k) {
		return e.cfg.Senders[k] != nil, nil
	}
	s, err := e.channelSettings(ctx, tx, tenantID)
	if err != nil {
		return false, err
	}
	if ownChannel(s, k) {
		return e.cfg.Channels != nil, nil
	}
	if e.cfg.NoSharedChannels {
		return false, Errorf(KindUnavailable, "%s is not set up for this MSP: an admin must enter its account in Settings → Channels", channelName(k))
	}
	return e.cfg.Senders[k] != nil, nil
}

// senderFor returns the sender of a tenant's item of kind k; nil means
// none (the item is kept in the outbox). A tenant whose own settings cannot
// make a sender gets a *PermanentError saying so.
func (e *Engine) senderFor(ctx context.Context, tenantID string, k OutboxKind) (Sender, error) {
	if !messageKind(k) {
		return e.cfg.Senders[k], nil
	}
	s, err := e.ChannelSettings(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return e.senderFrom(s, tenantID, k)
}

// senderFrom is senderFor with the tenant's channel settings s read.
func (e *Engine) senderFrom(s ChannelSettings, tenantID string, k OutboxKind) (Sender, error) {
	if !messageKind(k) {
		return e.cfg.Senders[k], nil
	}
	var err error
	if !ownChannel(s, k) {
		if e.cfg.NoSharedChannels {
			return nil, &PermanentError{Code: "not_configured",
				Reason: channelName(k) + " is not set up for this MSP: an admin must enter its account in Settings → Channels",
				Err:    fmt.Errorf("core: tenant %s has no %s account and the server shares none", tenantID, k)}
		}
		return e.cfg.Senders[k], nil
	}
	if e.cfg.Channels == nil {
		return nil, nil
	}
	var snd Sender
	switch k {
	case OutboxSMS:
		snd, err = e.cfg.Channels.SMS(s.Twilio)
	case OutboxVoice:
		snd, err = e.cfg.Channels.Voice(s.Twilio)
	default:
		snd, err = e.cfg.Channels.Email(s.Email)
	}
	if err != nil {
		return nil, &PermanentError{Code: "channel_settings",
			Reason: "the MSP's " + channelName(k) + " settings cannot be used: " + ErrorMessage(err), Err: err}
	}
	return snd, nil
}

// deliveryFacts is what a delivery is decided on, read in one transaction
// right before the send (deliveryChecks).
type deliveryFacts struct {
	// refusal is set when the tenant's rules (countries, opt-outs) refuse
	// the send now: a number may have texted STOP, or the allow-list
	// changed, since the item was queued — so that no SMS goes to an
	// opted-out number, ever.
	refusal *SendRefusal
	// settings are the tenant's channel settings (message kinds only), or
	// settingsErr why they cannot be read.
	settings    ChannelSettings
	settingsErr error
	// issue says the item's channel has an open misconfiguration (gate
	// decides what then happens).
	issue bool
}

// deliveryChecks reads the facts of a delivery of it (message m, channel ch)
// in one read-only transaction.
func (e *Engine) deliveryChecks(ctx context.Context, it OutboxItem, m Outbound, ch string) (deliveryFacts, error) {
	var f deliveryFacts
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		f = deliveryFacts{}
		var err error
		if f.refusal, err = e.checkPhoneSend(ctx, tx, it.TenantID, it.Kind, m.To, nil); err != nil || f.refusal != nil {
			return err
		}
		if messageKind(it.Kind) {
			f.settings, f.settingsErr = e.channelSettings(ctx, tx, it.TenantID)
		}
		if ch != "" {
			switch _, err := tx.ChannelIssue(ctx, it.TenantID, ch); {
			case err == nil:
				f.issue = true
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		return nil
	})
	return f, err
}

// refusedAtDelivery audits a refusal found by deliveryChecks and returns
// it as a *PermanentError.
func (e *Engine) refusedAtDelivery(ctx context.Context, it OutboxItem, r *SendRefusal) (*PermanentError, error) {
	subject := it.VerificationID
	if subject == "" {
		subject = it.ID
	}
	if err := e.auditRefusal(ctx, it.TenantID, "system", subject, r); err != r {
		return nil, err
	}
	code := "country_not_allowed"
	if r.Action == AuditSendRefusedOptOut {
		code = "opted_out"
	}
	return &PermanentError{Code: code, Reason: ErrorMessage(r.Err), Err: r}, nil
}
