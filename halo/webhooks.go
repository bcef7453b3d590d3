package halo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Webhooks (reference, Webhooks): Halo posts the ticket (and action) of an
// event to a URL with Basic authentication or none, and signs nothing. So
// the receiver is Countersign's per-integration event URL, whose path holds
// the integration's random id, and every delivery must carry the Basic
// credentials generated at setup (compared in constant time). The payload
// is a hint: its shape is unconfirmed, so it is read defensively for a
// ticket id only, and the ticket is read again through the API before
// anyone acts on it.

// VerifyCallback implements [psa.CallbackVerifier] for Halo webhooks: the
// body must be at most psa.MaxInboundBody bytes (core.ErrInvalid); the
// Authorization header must be Basic with the integration's webhook user
// and password (kind core.ErrUnauthorized otherwise, before the body is
// parsed); the body must be JSON naming a ticket (core.ErrInvalid
// otherwise). The Callback's ID is a digest of the body, so that a
// delivery Halo re-sends (its Deliveries tab, or a retry) is recognised;
// its Action is [psa.CallbackAdded] unless the payload names another event
// (the webhook is set up for "new ticket logged").
func (c *Client) VerifyCallback(ctx context.Context, h http.Header, body []byte) (psa.Callback, error) {
	if len(body) > psa.MaxInboundBody {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the webhook's body is larger than %d bytes", psa.MaxInboundBody)
	}
	if c.cfg.WebhookUser == "" || c.cfg.WebhookPassword == "" {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "this integration takes no Halo webhooks: generate the webhook credentials on the setup page")
	}
	if !c.webhookAuthOK(h.Get("Authorization")) {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the webhook's Basic credentials are missing or wrong")
	}
	ref, event, err := webhookTicket(body)
	if err != nil {
		return psa.Callback{}, err
	}
	sum := sha256.Sum256(body)
	cb := psa.Callback{ID: "sha256:" + hex.EncodeToString(sum[:16]), Type: "ticket", Action: psa.CallbackAdded, Ref: ref}
	if event != "" && !isNewTicketEvent(event) {
		cb.Action = psa.CallbackUpdated
	}
	return cb, nil
}

// webhookAuthOK compares a Basic Authorization header with the webhook's
// credentials in constant time (digests of equal length, user and password
// both compared whatever the first gives).
func (c *Client) webhookAuthOK(header string) bool {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") || len(cred) > 1024 {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	gu, gp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	wu, wp := sha256.Sum256([]byte(c.cfg.WebhookUser)), sha256.Sum256([]byte(c.cfg.WebhookPassword))
	return subtle.ConstantTimeCompare(gu[:], wu[:])&subtle.ConstantTimeCompare(gp[:], wp[:]) == 1
}

// webhookTicket finds the ticket a delivery is about: a Faults-like object
// at the top ({"id", "summary", …}), under "ticket" or "faults", or an
// action naming its ticket_id — or, for a batched delivery (an array), the
// first element that names one. It also returns the event's name when the
// payload carries one.
func webhookTicket(body []byte) (ref, event string, err error) {
	bad := core.Errorf(core.KindInvalid, "the webhook's body is not a Halo ticket or action in JSON")
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", "", bad
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", "", bad
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", "", bad
	}
	items := []any{v}
	if arr, ok := v.([]any); ok {
		items = arr
	}
	for i, it := range items {
		if i >= 100 {
			break
		}
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if id, ok := ticketIn(m); ok {
			return strconv.Itoa(id), eventName(m), nil
		}
	}
	return "", "", core.Errorf(core.KindInvalid, "the webhook names no ticket")
}

// ticketIn returns the ticket id m names.
func ticketIn(m map[string]any) (int, bool) {
	for _, k := range []string{"ticket", "Ticket", "faults", "fault"} {
		if t, ok := m[k].(map[string]any); ok {
			if id, ok := idOf(t["id"]); ok {
				return id, true
			}
		}
	}
	if id, ok := idOf(m["ticket_id"]); ok {
		return id, true
	}
	for _, k := range []string{"action", "Action", "actions"} {
		if a, ok := m[k].(map[string]any); ok {
			if id, ok := idOf(a["ticket_id"]); ok {
				return id, true
			}
		}
	}
	// A bare ticket: it has an id and a ticket's own fields.
	_, s := m["summary"]
	_, tt := m["tickettype_id"]
	_, st := m["status_id"]
	if s || tt || st {
		return idOf(m["id"])
	}
	return 0, false
}

// idOf reads a positive int32 id given as a number or a numeric string.
func idOf(v any) (int, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	var n flexInt
	if len(s) > 20 || n.UnmarshalJSON([]byte(s)) != nil || n < 1 {
		return 0, false
	}
	return int(n), true
}

// eventName returns the event a payload names, if any.
func eventName(m map[string]any) string {
	for _, k := range []string{"event", "event_name", "eventname", "webhook_event", "type"} {
		if s, ok := m[k].(string); ok && s != "" {
			return core.ClipBytes(s, 100, "")
		}
	}
	return ""
}

// isNewTicketEvent reports whether a Halo event name is about a new ticket
// ("New Ticket Logged", "ticket_created", …).
func isNewTicketEvent(e string) bool {
	e = strings.ToLower(e)
	return strings.Contains(e, "new") || strings.Contains(e, "logged") || strings.Contains(e, "creat") || strings.Contains(e, "added")
}

// Interface guard.
var _ psa.CallbackVerifier = (*Client)(nil)

// wireWebhook is a Halo webhook (schema Webhook), as we create and read
// it. Which numbers Halo uses for Basic authentication and for POST is
// unconfirmed (reference, Webhooks): the setup page asks the admin to
// check the webhook in Halo once.
type wireWebhook struct {
	ID                 string `json:"id,omitempty"`
	Name               string `json:"name,omitempty"`
	URL                string `json:"url,omitempty"`
	ContentType        string `json:"content_type,omitempty"`
	AuthenticationType *int   `json:"authentication_type,omitempty"`
	BasicUsername      string `json:"basic_username,omitempty"`
	BasicPassword      string `json:"basic_password,omitempty"`
	Active             *bool  `json:"active,omitempty"`
}

// webhookBasicAuth is authentication_type for Basic (None is 0).
const webhookBasicAuth = 1

const areaWebhooks = "managing webhooks (permission admin, or all)"

// RegisterCallbacks implements [psa.CallbackRegistrar] with Halo's
// webhook API: GET /api/Webhook for one at target, re-activated (POST with
// its id) when Halo has it inactive; otherwise POST /api/Webhook a new
// one, JSON, Basic authentication with the integration's webhook
// credentials. Its events are not set: which event ids Halo uses is
// unconfirmed, so the setup guide asks the admin to tick "New Ticket
// Logged" on it.
func (c *Client) RegisterCallbacks(ctx context.Context, target string) ([]psa.CallbackRegistration, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(target) > 1000 || strings.ContainsAny(target, " \"\\") {
		return nil, core.Errorf(core.KindInvalid, "the webhook URL %q is not an absolute http(s) URL", short(target))
	}
	if c.cfg.WebhookUser == "" || c.cfg.WebhookPassword == "" {
		return nil, core.Errorf(core.KindInvalid, "set the webhook user and password first: Halo's webhook sends them with every delivery")
	}
	list := call{what: "list webhooks", op: "GET /api/Webhook", method: http.MethodGet, path: "/Webhook", area: areaWebhooks}
	resp, err := c.send(ctx, list)
	if err != nil {
		return nil, err
	}
	var existing []wireWebhook
	if err := decodeList(resp, "webhooks", &existing); err != nil {
		return nil, c.decodeFail(list.what, err)
	}
	on, basic := true, webhookBasicAuth
	for _, w := range existing {
		if w.URL != target {
			continue
		}
		reg := psa.CallbackRegistration{Ref: w.ID, Type: "ticket"}
		if w.Active != nil && !*w.Active {
			if err := c.post(ctx, call{what: "re-activate webhook", op: "POST /api/Webhook", method: http.MethodPost, path: "/Webhook",
				body: []wireWebhook{{ID: w.ID, Active: &on}}, area: areaWebhooks}, nil); err != nil {
				return nil, err
			}
			reg.Reenabled = true
			c.log.InfoContext(ctx, "halo webhook re-activated", "webhook", w.ID)
		}
		return []psa.CallbackRegistration{reg}, nil
	}
	var created wireWebhook
	if err := c.post(ctx, call{what: "create webhook", op: "POST /api/Webhook", method: http.MethodPost, path: "/Webhook",
		body: []wireWebhook{{Name: "Countersign", URL: target, ContentType: "application/json", AuthenticationType: &basic,
			BasicUsername: c.cfg.WebhookUser, BasicPassword: c.cfg.WebhookPassword, Active: &on}}, area: areaWebhooks}, &created); err != nil {
		return nil, err
	}
	if created.ID == "" {
		return nil, newError("create webhook", core.KindUnavailable, nil, "Halo created the webhook but did not say its id")
	}
	c.log.InfoContext(ctx, "halo webhook created", "webhook", created.ID)
	return []psa.CallbackRegistration{{Ref: created.ID, Type: "ticket", Created: true}}, nil
}

// Interface guard.
var _ psa.CallbackRegistrar = (*Client)(nil)
