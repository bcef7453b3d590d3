package twilio

import (
	"context"
	"fmt"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/countersign/countersign/core"
)

// SMS sends text messages (codes and one-click links).
type SMS struct{ c *Client }

// Twilio's ValidityPeriod bounds, in seconds (channels.md §1.2).
const (
	minValidity = 1
	maxValidity = 36000
)

// Send sends m.Text to m.To and returns the MessageSid.
//
// ValidityPeriod comes from m.ValidityPeriod so a stale code is dropped from
// Twilio's queue instead of arriving after it expired (security.md §6).
// ShortenUrls is never sent: a link shortener would route the token through a
// third-party redirect.
func (s *SMS) Send(ctx context.Context, m core.Outbound) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("twilio: send sms: %w", err)
	}
	if m.Text == "" {
		return "", &core.PermanentError{Code: "empty_body", Reason: "the message is empty",
			Err: fmt.Errorf("twilio: send sms: empty body")}
	}
	p := &api.CreateMessageParams{}
	p.SetTo(m.To).SetBody(m.Text)
	from := m.From
	if from == "" {
		from = s.c.cfg.From
	}
	if s.c.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(s.c.cfg.MessagingServiceSID)
	}
	if from != "" {
		p.SetFrom(from)
	}
	if m.ValidityPeriod > 0 {
		p.SetValidityPeriod(seconds(m.ValidityPeriod, minValidity, maxValidity))
	}
	if m.StatusCallback != "" {
		p.SetStatusCallback(m.StatusCallback)
	}

	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	msg, err := s.c.api(ctx).CreateMessage(p)
	if err != nil {
		return "", mapError(ctx, "send sms", err)
	}
	if msg.Sid == nil {
		return "", fmt.Errorf("twilio: send sms: response has no sid")
	}
	return *msg.Sid, nil
}
