package autotask

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Ticket webhooks (reference, "Webhooks"): Autotask posts an event for
// every new ticket to the URL we register, with
// X-Hook-Signature: sha1=<base64 HMAC-SHA1 of the raw body, keyed with the
// webhook's secret key>. The body is
//
//	{"Action":"Create","Guid":"…","EntityType":"Ticket","Id":12345,
//	 "Fields":{…},"EventTime":"2026-03-01T09:00:00.123Z","SequenceNumber":7,"PersonID":29682885}
//
// The secret key is not stored: it is derived from the API secret (HMAC,
// so it reveals nothing about it), which both the registration and the
// check have, and a new API secret means registering again.

const (
	webhookName = "Countersign"
	// eventMaxAge bounds replays: an event older than this (Autotask sends
	// within seconds and retries for a short while) is refused, and the host
	// drops a repeated Guid within it.
	eventMaxAge = 15 * time.Minute
	// eventMaxSkew is how far in the future an EventTime may be.
	eventMaxSkew = 2 * time.Minute
)

// webhookSecret is the secret key of the integration's webhook: at most 64
// characters, as Autotask requires.
func (c *Client) webhookSecret() string {
	m := hmac.New(sha256.New, []byte(c.cfg.Secret))
	m.Write([]byte("countersign/autotask/webhook/v1\x00" + strings.ToLower(c.cfg.UserName)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type wireWebhook struct {
	ID                                int64  `json:"id,omitempty"`
	Name                              string `json:"name,omitempty"`
	WebhookURL                        string `json:"webhookUrl,omitempty"`
	IsActive                          bool   `json:"isActive"`
	IsSubscribedToCreateEvents        bool   `json:"isSubscribedToCreateEvents"`
	IsSubscribedToUpdateEvents        bool   `json:"isSubscribedToUpdateEvents"`
	IsSubscribedToDeleteEvents        bool   `json:"isSubscribedToDeleteEvents"`
	SecretKey                         string `json:"secretKey,omitempty"`
	SendThresholdExceededNotification bool   `json:"sendThresholdExceededNotification"`
}

const webhooksArea = "managing webhooks (Admin: webhooks)"

// RegisterCallbacks implements [psa.CallbackRegistrar]: one ticket webhook
// for url, subscribed to new tickets. A webhook for url that exists is
// updated in place (enabled again, its secret key renewed), never
// duplicated.
func (c *Client) RegisterCallbacks(ctx context.Context, url string) ([]psa.CallbackRegistration, error) {
	const what = "register the ticket webhook"
	// A URL Autotask could not post to is refused before any call
	// (psatest's CallbackRegistrar case).
	if u, err := neturl.Parse(url); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(url) > 1000 {
		return nil, core.Errorf(core.KindInvalid, "the webhook URL %q is not an absolute http(s) URL", url)
	}
	ws, _, err := queryPage[wireWebhook](ctx, c, what, "TicketWebhooks", webhooksArea,
		queryModel{MaxRecords: 10, Filter: []filter{eq("webhookUrl", url)}})
	if err != nil {
		return nil, err
	}
	want := wireWebhook{Name: webhookName, WebhookURL: url, IsActive: true, IsSubscribedToCreateEvents: true,
		SecretKey: c.webhookSecret(), SendThresholdExceededNotification: true}
	for _, w := range ws {
		if w.WebhookURL != url {
			continue
		}
		want.ID = w.ID
		if err := c.do(ctx, call{what: what, op: "PATCH /V1.0/TicketWebhooks", method: http.MethodPatch,
			path: "V1.0/TicketWebhooks", body: jsonBody(want), area: webhooksArea}, nil); err != nil {
			return nil, err
		}
		return []psa.CallbackRegistration{{Ref: idRef(w.ID), Type: "ticket", Reenabled: !w.IsActive}}, nil
	}
	var cr created
	if err := c.do(ctx, call{what: what, op: "POST /V1.0/TicketWebhooks", method: http.MethodPost,
		path: "V1.0/TicketWebhooks", body: jsonBody(want), area: webhooksArea}, &cr); err != nil {
		return nil, err
	}
	if cr.ItemID <= 0 {
		return nil, newError(what, core.KindUnavailable, nil, "Autotask created the webhook but did not say its id")
	}
	return []psa.CallbackRegistration{{Ref: idRef(cr.ItemID), Type: "ticket", Created: true}}, nil
}

// wireEvent is a webhook delivery.
type wireEvent struct {
	Action         string          `json:"Action"`
	GUID           string          `json:"Guid"`
	EntityType     string          `json:"EntityType"`
	ID             json.Number     `json:"Id"`
	EventTime      string          `json:"EventTime"`
	SequenceNumber json.Number     `json:"SequenceNumber"`
	Fields         json.RawMessage `json:"Fields"`
}

// VerifyCallback implements [psa.CallbackVerifier]: the body's HMAC-SHA1
// with the webhook's secret key must be X-Hook-Signature (compared in
// constant time), and its EventTime within the last 15 minutes (and not
// more than 2 in the future), so that a captured delivery cannot be
// replayed later; within that window the host drops a repeated Guid. Only
// then is the JSON read. It makes no call.
func (c *Client) VerifyCallback(_ context.Context, h http.Header, body []byte) (psa.Callback, error) {
	if len(body) > psa.MaxInboundBody {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "an Autotask webhook body larger than %d bytes", psa.MaxInboundBody)
	}
	sig, ok := strings.CutPrefix(strings.TrimSpace(h.Get("X-Hook-Signature")), "sha1=")
	if !ok {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the Autotask webhook has no X-Hook-Signature")
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) != sha1.Size {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the Autotask webhook's signature is not a base64 HMAC-SHA1")
	}
	m := hmac.New(sha1.New, []byte(c.webhookSecret()))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized,
			"the Autotask webhook's signature does not match: register the webhook again after changing the API secret")
	}
	var ev wireEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the Autotask webhook is not JSON")
	}
	when, err := parseEventTime(ev.EventTime)
	if err != nil {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the Autotask webhook has no valid EventTime")
	}
	now := c.now()
	if now.Sub(when) > eventMaxAge || when.Sub(now) > eventMaxSkew {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the Autotask webhook is from %s: too old or too far ahead to be trusted (a replay?)", when.UTC().Format(time.RFC3339))
	}
	id, err := ev.ID.Int64()
	if err != nil || id <= 0 {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the Autotask webhook names no record id")
	}
	cb := psa.Callback{ID: strings.TrimSpace(ev.GUID), Type: strings.ToLower(strings.TrimSuffix(strings.TrimSpace(ev.EntityType), "s")),
		Ref: idRef(id)}
	if cb.ID == "" || len(cb.ID) > 128 {
		sum := sha256.Sum256(body)
		cb.ID = hex.EncodeToString(sum[:16])
	}
	switch strings.ToLower(ev.Action) {
	case "create":
		cb.Action = psa.CallbackAdded
	case "update":
		cb.Action = psa.CallbackUpdated
	case "delete":
		cb.Action = psa.CallbackDeleted
	default:
		cb.Action = strings.ToLower(core.FitRunes(ev.Action, 32, core.Ellipsis))
	}
	return cb, nil
}

// parseEventTime reads Autotask's UTC datetimes, with or without a zone
// and fractional seconds.
func parseEventTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, core.Errorf(core.KindInvalid, "not a datetime")
}
