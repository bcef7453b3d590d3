package seampsa

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Client talks to a seam PSA ([seampsatest.Server]) over HTTP.
type Client struct {
	base   *url.URL
	key    string
	secret string
	doer   *psa.Doer
	now    func() time.Time
}

// New returns a client for cfg; it validates cfg and makes no request.
func New(cfg Config, deps psa.Deps) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	return &Client{base: u, key: cfg.APIKey, secret: cfg.WebhookSecret, doer: deps.Doer(), now: deps.Clock()}, nil
}

// WireContact and WireTicket are the seam PSA's JSON, shared with its fake.
type WireContact struct {
	ID        string   `json:"id"`
	CompanyID string   `json:"company_id"`
	First     string   `json:"first"`
	Last      string   `json:"last"`
	Emails    []string `json:"emails"`
	Phones    []string `json:"phones"`
}

// WireTicket is a ticket with its contact inlined.
type WireTicket struct {
	ID        string       `json:"id"`
	Summary   string       `json:"summary"`
	CompanyID string       `json:"company_id"`
	Status    string       `json:"status"`
	Contact   *WireContact `json:"contact"`
}

// WireNote is a note as posted.
type WireNote struct {
	Text    string `json:"text"`
	Private bool   `json:"private"`
}

// GetTicket implements psa.TicketGetter: one call, the contact inlined.
func (c *Client) GetTicket(ctx context.Context, ref string) (psa.Ticket, error) {
	u := c.base.JoinPath("tickets", ref)
	resp, err := c.doer.Do(ctx, "GET /tickets/{id}", func(ctx context.Context) (*http.Request, error) {
		return c.request(ctx, http.MethodGet, u.String(), nil)
	})
	if err != nil {
		return psa.Ticket{}, c.fail("get ticket "+ref, err)
	}
	var w WireTicket
	if err := psa.DecodeJSON(resp, &w); err != nil {
		return psa.Ticket{}, fmt.Errorf("seampsa: get ticket %s: %w", ref, err)
	}
	t := psa.Ticket{Ref: w.ID, Number: w.ID, Summary: w.Summary, CompanyRef: w.CompanyID, Status: w.Status}
	if w.Contact != nil {
		ct := psa.Contact{Ref: w.Contact.ID, CompanyRef: w.Contact.CompanyID, FirstName: w.Contact.First, LastName: w.Contact.Last}
		for i, e := range w.Contact.Emails {
			ct.Emails = append(ct.Emails, psa.Email{Address: e, Default: i == 0})
		}
		for i, p := range w.Contact.Phones {
			ct.Phones = append(ct.Phones, psa.Phone{Number: p, Default: i == 0})
		}
		t.ContactRef, t.Contact = ct.Ref, &ct
	}
	return t, nil
}

// AddTicketNote implements psa.TicketNoter; a 5xx is not retried (the
// note may have been written).
func (c *Client) AddTicketNote(ctx context.Context, ticketRef string, n psa.Note) error {
	body, _ := json.Marshal(WireNote{Text: n.Text, Private: !n.Public})
	u := c.base.JoinPath("tickets", ticketRef, "notes")
	resp, err := c.doer.Do(ctx, "POST /tickets/{id}/notes", func(ctx context.Context) (*http.Request, error) {
		return c.request(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	})
	if err != nil {
		return c.fail("add note to ticket "+ticketRef, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (c *Client) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Seam-Key", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// fail puts the admin's words on a refusal of the keys.
func (c *Client) fail(what string, err error) error {
	var he *psa.HTTPError
	if errors.As(err, &he) {
		switch he.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("seampsa: %s: %w: %w", what, &core.Error{Kind: core.KindUnauthorized,
				Message: "the Seam Test PSA refused the API key: paste the current one into the integration"}, err)
		case http.StatusForbidden:
			return fmt.Errorf("seampsa: %s: %w: %w", what, &core.Error{Kind: core.KindForbidden,
				Message: "the Seam Test PSA's API key may not do this: give it the ticket rights"}, err)
		}
	}
	return fmt.Errorf("seampsa: %s: %w", what, err)
}

// FrameOrigins implements psa.Embedder: the PSA's own origin frames the pod.
func (c *Client) FrameOrigins() []string { return []string{c.base.Scheme + "://" + c.base.Host} }

// PodContext implements psa.Embedder: the PSA adds ?seam_ticket={id}.
func (c *Client) PodContext(q url.Values) (psa.PodContext, error) {
	id := q.Get("seam_ticket")
	if id == "" || len(id) > 32 || strings.Trim(id, "0123456789") != "" {
		return psa.PodContext{}, core.Errorf(core.KindInvalid, "the pod URL needs ?seam_ticket= with the ticket's number")
	}
	return psa.PodContext{Screen: psa.ScreenTicket, TicketRef: id}, nil
}

// Setup implements psa.SetupGuide.
func (c *Client) Setup(podURL, origin string) psa.Setup {
	return psa.Setup{
		Where: "Admin › Ticket screen › Embedded apps",
		Pods: []psa.PodEntry{{Screen: psa.ScreenTicket, ScreenName: "Ticket", Description: "Countersign",
			URL: podURL + "?seam_ticket={ticket_id}", Origin: origin, Type: "Embedded app"}},
		Permissions: []psa.Permission{{Area: "Tickets", Access: "Read, add notes", Why: "to show the caller and write the result"}},
	}
}

// SignatureHeader carries an event's signature: t=<unix>,v1=<hex HMAC-SHA256
// of "t.body">.
const SignatureHeader = "X-Seam-Signature"

// Sign returns the SignatureHeader value for body at ts with secret.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// WireEvent is the body of an event.
type WireEvent struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Action string `json:"action"`
	Ref    string `json:"ref"`
}

// VerifyCallback implements psa.CallbackVerifier: HMAC over timestamp and
// body in constant time, five minutes of tolerance, the event's id for the
// host to drop a replay.
func (c *Client) VerifyCallback(_ context.Context, h http.Header, body []byte) (psa.Callback, error) {
	if len(body) > psa.MaxInboundBody {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the event is too large")
	}
	if c.secret == "" {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "this integration takes no events (no webhook secret)")
	}
	var ts string
	for _, part := range strings.Split(h.Get(SignatureHeader), ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k == "t" {
			ts = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || !hmac.Equal([]byte(h.Get(SignatureHeader)), []byte(Sign(c.secret, sec, body))) {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the event's signature does not match")
	}
	if d := c.now().Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the event is not fresh")
	}
	var e WireEvent
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || e.Ref == "" || len(e.ID) > 64 || len(e.Ref) > 32 {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the event is not the seam PSA's JSON")
	}
	return psa.Callback{ID: e.ID, Type: strings.ToLower(e.Type), Action: strings.ToLower(e.Action), Ref: e.Ref}, nil
}
