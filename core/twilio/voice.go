package twilio

import (
	"context"
	"fmt"
	"strconv"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
	"github.com/twilio/twilio-go/twiml"

	"github.com/countersign/countersign/core"
)

// Voice places calls that read a message (a code) and hang up.
type Voice struct{ c *Client }

// Call limits. Ringing stays short so an unanswered call fails fast and the
// technician can pick another channel; TimeLimit caps the cost of each call
// (security.md §6).
const (
	// RingTimeout is how long a call rings before it counts as no-answer.
	RingTimeout = 30 * time.Second
	// DefaultTimeLimit caps a call when Outbound.TimeLimit is zero.
	DefaultTimeLimit = 60 * time.Second
	maxTimeLimit     = 4 * time.Hour // Twilio's maximum
	maxTwiML         = 4000          // Twilio rejects longer inline TwiML
)

// callEvents are the progress callbacks requested when a status callback is set.
var callEvents = []string{"initiated", "ringing", "answered", "completed"}

// Send calls m.To and reads m.Say, one phrase after another with a one-second
// pause between them, then hangs up. It returns the CallSid.
//
// The TwiML goes inline: a Url would make Twilio fetch the code from us (and
// log the fetch), and Twilio ignores Twiml when a Url is also set.
func (v *Voice) Send(ctx context.Context, m core.Outbound) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("twilio: place call: %w", err)
	}
	from := m.From
	if from == "" {
		from = v.c.cfg.From
	}
	if from == "" {
		// Messaging Services do not place calls. Retrying will not help.
		return "", &core.PermanentError{Code: "no_caller_id", Reason: "no caller ID number is configured for voice calls",
			Err: fmt.Errorf("twilio: place call: no from number configured")}
	}
	doc, err := TwiML(m)
	if err != nil {
		return "", err
	}

	p := &api.CreateCallParams{}
	p.SetTo(m.To).SetFrom(from).SetTwiml(doc)
	p.SetTimeout(int(RingTimeout / time.Second))
	limit := m.TimeLimit
	if limit <= 0 {
		limit = DefaultTimeLimit
	}
	p.SetTimeLimit(seconds(limit, 1, int(maxTimeLimit/time.Second)))
	if m.StatusCallback != "" {
		p.SetStatusCallback(m.StatusCallback).SetStatusCallbackEvent(callEvents)
	}

	ctx, cancel := context.WithTimeout(ctx, v.c.timeout)
	defer cancel()
	call, err := v.c.api(ctx).CreateCall(p)
	if err != nil {
		return "", mapError(ctx, "place call", err)
	}
	if call.Sid == nil {
		return "", fmt.Errorf("twilio: place call: response has no sid")
	}
	return *call.Sid, nil
}

// TwiML returns the inline TwiML document Voice sends for m: each phrase of
// m.Say (or m.Text when Say is empty) in a <Say>, a one-second <Pause>
// between phrases, then <Hangup>. The builder XML-escapes the phrases.
func TwiML(m core.Outbound) (string, error) {
	phrases := m.Say
	if len(phrases) == 0 && m.Text != "" {
		phrases = []string{m.Text}
	}
	if len(phrases) == 0 {
		return "", &core.PermanentError{Code: "empty_body", Reason: "the message is empty",
			Err: fmt.Errorf("twilio: place call: nothing to say")}
	}
	verbs := make([]twiml.Element, 0, 2*len(phrases)+1)
	for i, s := range phrases {
		if i > 0 {
			verbs = append(verbs, twiml.VoicePause{Length: strconv.Itoa(1)})
		}
		verbs = append(verbs, twiml.VoiceSay{Message: s})
	}
	verbs = append(verbs, twiml.VoiceHangup{})
	doc, err := twiml.Voice(verbs)
	if err != nil {
		return "", fmt.Errorf("twilio: build twiml: %w", err)
	}
	if len(doc) > maxTwiML {
		return "", &core.PermanentError{Code: "twiml_too_long", Reason: "the voice message is too long",
			Err: fmt.Errorf("twilio: place call: twiml is %d characters, limit %d", len(doc), maxTwiML)}
	}
	return doc, nil
}

// Interface guards: the compiler checks that both senders satisfy core.Sender.
var (
	_ core.Sender = (*SMS)(nil)
	_ core.Sender = (*Voice)(nil)
)
