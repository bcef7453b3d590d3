package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Channels a misconfiguration can be about. A PSA integration's channel is
// [PSAChannel] of its id.
const (
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
	ChannelEmail = "email"
)

// psaChannelPrefix starts the channel of a PSA integration.
const psaChannelPrefix = "psa:"

// PSAChannel is the channel of PSA integration id: its ticket notes and the
// inbound events acted on through it.
func PSAChannel(integrationID string) string { return psaChannelPrefix + integrationID }

// ChannelIntegration returns the integration id of a PSA channel, and
// whether channel is one.
func ChannelIntegration(channel string) (string, bool) {
	id, ok := strings.CutPrefix(channel, psaChannelPrefix)
	return id, ok && id != ""
}

// ValidChannel reports whether channel names a channel.
func ValidChannel(channel string) bool {
	switch channel {
	case ChannelSMS, ChannelVoice, ChannelEmail:
		return true
	}
	_, ok := ChannelIntegration(channel)
	return ok
}

// channelOf is the channel an outbox message goes out on; "" for kinds no
// outside service refuses (none today).
func channelOf(m Outbound) string {
	switch m.Kind {
	case OutboxSMS:
		return ChannelSMS
	case OutboxVoice:
		return ChannelVoice
	case OutboxEmail:
		return ChannelEmail
	case OutboxTicketNote, OutboxInboundEvent:
		if m.Integration != "" {
			return PSAChannel(m.Integration)
		}
	}
	return ""
}

// ChannelName names a channel in a sentence's subject: "SMS", "Voice
// calls", "Email", "The PSA integration".
func ChannelName(channel string) string {
	switch channel {
	case ChannelSMS:
		return "SMS"
	case ChannelVoice:
		return "Voice calls"
	case ChannelEmail:
		return "Email"
	}
	return "The PSA integration"
}

// ChannelMessage is what a technician who is not an administrator reads
// when a channel is misconfigured, e.g. "SMS is not configured correctly —
// ask your admin".
func ChannelMessage(channel string) string {
	verb := "is"
	if channel == ChannelVoice {
		verb = "are"
	}
	return ChannelName(channel) + " " + verb + " not configured correctly — ask your admin"
}

// DeliveryMisconfigured is the DeliveryStatus of an open verification
// whose message waits for its channel to be fixed; its Detail is
// [ChannelMessage].
const DeliveryMisconfigured = "misconfigured"

// ChannelIssue is a tenant's channel that an outside service refused
// because of how it is set up. While it lasts, the outbox parks the
// channel's items (OutboxWaiting) and sends at most one probe per backoff
// step; new verifications on the channel are refused with
// [ChannelMessage]. Saving the channel's settings (or an admin's retry)
// clears it and the parked items go out.
type ChannelIssue struct {
	TenantID string
	Channel  string // ChannelSMS, ChannelVoice, ChannelEmail or PSAChannel(id)
	// Code, VendorMessage and Fix are those of the last refusal
	// (MisconfiguredError).
	Code          string
	VendorMessage string
	Fix           string
	Since         time.Time // first refusal
	LastSeen      time.Time // last refusal
	// NextProbeAt is when one parked item may try the vendor again.
	NextProbeAt time.Time
	Probes      int // probes made so far
	// Waiting is how many outbox items wait for the channel (filled in by
	// ListChannelIssues).
	Waiting int
}

// Probe schedule of a misconfigured channel: a minute after the refusal,
// doubling to half an hour. A fix made outside Countersign (permissions
// granted in the PSA, an API key re-enabled) is found within that time
// without anyone pressing anything; a fix saved here is immediate.
const (
	probeBaseDelay = time.Minute
	probeMaxDelay  = 30 * time.Minute
)

func probeDelay(probes int) time.Duration {
	return min(probeBaseDelay<<min(probes, 10), probeMaxDelay)
}

// ChannelIssues returns a tenant's misconfigured channels, oldest first.
func (e *Engine) ChannelIssues(ctx context.Context, tenantID string) ([]ChannelIssue, error) {
	var out []ChannelIssue
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ListChannelIssues(ctx, tenantID)
		return err
	})
	return out, err
}

// ClearChannelIssue ends the misconfiguration of the tenant's channels
// because actor fixed them (how says how: "settings saved", "retry
// requested"): each issue that existed is audited as AuditChannelFixed, and
// the items that waited for it are due at once. Channels without an issue
// are no error. It is what a settings save calls for the channels the
// settings feed (Twilio: ChannelSMS and ChannelVoice).
func (e *Engine) ClearChannelIssue(ctx context.Context, tenantID, actor, how string, channels ...string) error {
	var resumed int
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		resumed, err = e.clearChannels(ctx, tx, tenantID, actor, how, channels...)
		return err
	})
	if err != nil {
		return fmt.Errorf("core: clear channel issue: %w", err)
	}
	if resumed > 0 {
		e.Wake()
	}
	return nil
}

// clearChannels is ClearChannelIssue in tx; it returns how many items it
// made due.
func (e *Engine) clearChannels(ctx context.Context, tx Tx, tenantID, actor, how string, channels ...string) (int, error) {
	now := e.Now()
	resumed := 0
	for _, ch := range channels {
		issue, err := tx.ChannelIssue(ctx, tenantID, ch)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := tx.DeleteChannelIssue(ctx, tenantID, ch); err != nil {
			return 0, err
		}
		n, err := tx.ResumeWaitingOutbox(ctx, tenantID, ch, now)
		if err != nil {
			return 0, err
		}
		resumed += n
		detail := map[string]string{"channel": ch, "how": how, "since": issue.Since.UTC().Format(time.RFC3339),
			"resumed": fmt.Sprint(n)}
		if err := e.audit(ctx, tx, tenantID, actor, AuditChannelFixed, ch, detail); err != nil {
			return 0, err
		}
	}
	return resumed, nil
}

// checkChannel refuses a new verification on a channel known to be
// misconfigured, unless its next probe is due (then the new message is
// the probe). An administrator reads what to fix; anyone else reads
// [ChannelMessage]. exists, when not nil, says whether tx already found an
// issue of the channel (SendStats): none needs no read.
func (e *Engine) checkChannel(ctx context.Context, tx Tx, tenantID, channel string, tech Technician, now time.Time, exists *bool) error {
	if channel == "" || e.cfg.DevDelivery || e.cfg.Senders[kindOfChannel(channel)] == nil || (exists != nil && !*exists) {
		return nil
	}
	issue, err := tx.ChannelIssue(ctx, tenantID, channel)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !now.Before(issue.NextProbeAt) {
		return nil
	}
	msg := ChannelMessage(channel)
	if tech.Role.IsAdmin() && issue.Fix != "" {
		msg = ChannelName(channel) + " is not configured correctly: " + issue.Fix
	}
	return &MisconfiguredError{Fix: msg, Code: issue.Code, VendorMessage: issue.VendorMessage}
}

// channelsOfKinds are the channels of message kinds.
func channelsOfKinds(kinds []OutboxKind) []string {
	var out []string
	for _, k := range kinds {
		if ch := channelOf(Outbound{Kind: k}); ch != "" {
			out = append(out, ch)
		}
	}
	return out
}

// kindOfChannel is the outbox kind whose sender serves a message channel.
func kindOfChannel(channel string) OutboxKind {
	switch channel {
	case ChannelSMS:
		return OutboxSMS
	case ChannelVoice:
		return OutboxVoice
	case ChannelEmail:
		return OutboxEmail
	}
	return OutboxTicketNote
}

// gate decides whether an item of channel ch may go to its vendor now: yes
// when the channel has no issue, or when this item takes the issue's due
// probe (probing true). Otherwise the item is parked and gate returns
// parked true.
func (e *Engine) gate(ctx context.Context, it OutboxItem, ch string) (probing, parked bool, err error) {
	var v Verification
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		probing, parked, v = false, false, Verification{}
		issue, err := tx.ChannelIssue(ctx, it.TenantID, ch)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := e.Now()
		ok, err := tx.ClaimChannelProbe(ctx, it.TenantID, ch, now, now.Add(probeDelay(issue.Probes+1)))
		if err != nil || ok {
			probing = ok
			return err
		}
		parked = true
		v, err = e.park(ctx, tx, &it, ch, "waiting for "+ch+" to be fixed: "+issue.Fix, now)
		return err
	})
	if err == nil && v.ID != "" {
		e.publish(ctx, e.event(parkedEvent(it), v))
	}
	return probing, parked, err
}

// parkedEvent is what watchers of a parked item's verification are told:
// its delivery, or its ticket note, waits.
func parkedEvent(it OutboxItem) EventType {
	if it.Kind == OutboxTicketNote {
		return EventVerificationNote
	}
	return EventVerificationDelivery
}

// park makes it wait for ch and shows its open verification as waiting on
// the configuration. It returns the verification when its display changed.
func (e *Engine) park(ctx context.Context, tx Tx, it *OutboxItem, ch, why string, now time.Time) (Verification, error) {
	it.Status, it.Channel, it.LastError, it.LeaseUntil, it.Reason = OutboxWaiting, ch, why, time.Time{}, ChannelMessage(ch)
	if err := tx.UpdateOutbox(ctx, it); err != nil {
		return Verification{}, err
	}
	if it.VerificationID == "" {
		return Verification{}, nil
	}
	if it.Kind == OutboxTicketNote {
		return tx.Verification(ctx, it.TenantID, it.VerificationID) // its note now waits
	}
	v, err := tx.LockVerification(ctx, it.TenantID, it.VerificationID)
	if err != nil || !v.Status.Open() || v.DeliveryStatus == DeliveryMisconfigured {
		return Verification{}, err
	}
	v.DeliveryStatus, v.Detail = DeliveryMisconfigured, ChannelMessage(ch)
	if err := tx.UpdateVerification(ctx, &v); err != nil {
		return Verification{}, err
	}
	return v, nil
}

// misconfigured records that ch refused it: the item waits, and the channel
// gets (or keeps) its issue, audited when it begins.
func (e *Engine) misconfigured(ctx context.Context, it OutboxItem, ch string, mis *MisconfiguredError) error {
	var v Verification
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		v = Verification{}
		now := e.Now()
		it.Attempts++
		issue, err := tx.ChannelIssue(ctx, it.TenantID, ch)
		fresh := errors.Is(err, ErrNotFound)
		if err != nil && !fresh {
			return err
		}
		if fresh {
			issue = ChannelIssue{TenantID: it.TenantID, Channel: ch, Since: now, NextProbeAt: now.Add(probeDelay(0))}
		}
		issue.Code, issue.VendorMessage, issue.Fix, issue.LastSeen = mis.Code, mis.VendorMessage, mis.Fix, now
		if err := tx.PutChannelIssue(ctx, &issue); err != nil {
			return err
		}
		if v, err = e.park(ctx, tx, &it, ch, mis.Error(), now); err != nil {
			return err
		}
		if !fresh {
			return nil
		}
		detail := map[string]string{"channel": ch, "fix": mis.Fix, "outbox_id": it.ID}
		if mis.Code != "" {
			detail["code"] = mis.Code
		}
		if mis.VendorMessage != "" {
			detail["vendor_message"] = mis.VendorMessage
		}
		return e.audit(ctx, tx, it.TenantID, "system", AuditChannelMisconfigured, ch, detail)
	})
	if err != nil {
		return fmt.Errorf("core: record misconfigured %s: %w", ch, err)
	}
	if v.ID != "" {
		e.publish(ctx, e.event(parkedEvent(it), v))
	}
	return nil
}

// resumeDueChannels makes the parked items of every channel whose probe
// is due pending again (all channels when all is true, as at start-up:
// settings given at start may be the fix). gate lets one of them take the
// probe and parks the rest again without a request to the vendor.
func (e *Engine) resumeDueChannels(ctx context.Context, all bool) (int, error) {
	resumed := 0
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		resumed = 0
		now := e.Now()
		before := now
		if all {
			before = now.Add(100 * 365 * 24 * time.Hour)
		}
		issues, err := tx.DueChannelIssues(ctx, before, 100)
		if err != nil {
			return err
		}
		for _, is := range issues {
			if all {
				is.NextProbeAt = now
				if err := tx.PutChannelIssue(ctx, &is); err != nil {
					return err
				}
			}
			n, err := tx.ResumeWaitingOutbox(ctx, is.TenantID, is.Channel, now)
			if err != nil {
				return err
			}
			resumed += n
		}
		return nil
	})
	return resumed, err
}
