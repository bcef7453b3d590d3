package superops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Client is a SuperOps MSP GraphQL client for one integration. It follows
// the contract of package psa; its deviations and extras are documented on
// the methods. It is safe for concurrent use.
type Client struct {
	cfg    Config
	region string
	doer   *psa.Doer
	log    *slog.Logger
	now    func() time.Time
	// contacts caches requester reads briefly (GetContact): a technician
	// verifying from a ticket reads the same requester several times.
	contacts *psa.ContactCache
}

// Requester reads are reused for a minute, at most 1,000 of them.
const (
	contactTTL        = time.Minute
	maxCachedContacts = 1000
)

// New returns a client for cfg. It validates cfg and makes no request.
func New(cfg Config, deps psa.Deps) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	region := cfg.PhoneRegion
	if region == "" {
		region = "US"
	}
	// One budget for the whole integration: SuperOps counts per token.
	doer := deps.Doer()
	perMinute := cfg.callsPerMinute()
	doer.Limit = psa.NewLimiter(perMinute, time.Minute, min(perMinute, 20), false)
	return &Client{
		cfg: cfg, region: region, doer: doer, now: deps.Clock(),
		contacts: psa.NewContactCache(contactTTL, maxCachedContacts),
		log:      deps.Log().With(slog.String("psa", ID), slog.String("subdomain", cfg.Subdomain)),
	}, nil
}

// FlexID is a SuperOps id. The reference types ids as strings, but live
// tenants send 16+-digit ids as unquoted JSON numbers inside JSON scalars,
// which would lose digits as float64: FlexID keeps a number's literal
// digits.
type FlexID string

// UnmarshalJSON accepts a JSON string or number.
func (id *FlexID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*id = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = FlexID(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("superops: id %s is neither a string nor a number", b)
		}
		*id = FlexID(n.String())
	}
	return nil
}

// gqlError is one entry of GraphQL's errors list.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		ClientError []struct {
			Code string `json:"code"`
		} `json:"clientError"`
	} `json:"extensions"`
}

func (e gqlError) code() string {
	if len(e.Extensions.ClientError) > 0 {
		return e.Extensions.ClientError[0].Code
	}
	return ""
}

// Error is a SuperOps failure explained in words an admin can act on
// (the shared [psa.Error]); Code is SuperOps' clientError code, "" when
// none.
type Error = psa.Error

// newError returns an *Error of kind k for the operation what, with msg
// as its user-safe message.
func newError(what string, k core.Kind, cause error, msg string) *Error {
	return psa.NewError("superops", what, k, cause, "%s", msg)
}

// gql is one GraphQL operation.
type gql struct {
	what     string // "find requesters"
	name     string // the operation and its root field: "getClientUserList"
	mutation bool
	query    string
	input    any
	subject  string // what entity_does_not_exist is missing: "ticket 12"
}

// do sends q and decodes its root field into v. Errors are read before
// data, on every answer.
func (c *Client) do(ctx context.Context, q gql, v any) error {
	req := map[string]any{"query": q.query, "operationName": q.name}
	if q.input != nil { // getStatusList and the like take no input
		req["variables"] = map[string]any{"input": q.input}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("superops: %s: %w", q.what, err)
	}
	send := c.doer.DoRepeatable // a query changes nothing
	if q.mutation {
		send = c.doer.Do // retried only on 429
	}
	op := "query " + q.name
	if q.mutation {
		op = "mutation " + q.name
	}
	resp, err := send(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.url(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIToken)
		req.Header.Set("CustomerSubDomain", c.cfg.Subdomain)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return c.httpFail(q, err)
	}
	var out struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []gqlError                 `json:"errors"`
	}
	if err := psa.DecodeJSON(resp, &out); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("superops: %s: %w", q.what, err)
		}
		return newError(q.what, core.KindUnavailable, err, "SuperOps sent an answer that is not the JSON it should be: try again later")
	}
	if len(out.Errors) > 0 {
		return c.refused(q, out.Errors[0])
	}
	raw, ok := out.Data[q.name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if q.subject != "" {
			return newError(q.what, core.KindNotFound, nil, "SuperOps has no "+q.subject)
		}
		return newError(q.what, core.KindUnavailable, nil, "SuperOps answered without data: try again later")
	}
	if v == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return newError(q.what, core.KindUnavailable, err, "SuperOps sent data that is not the JSON it should be: try again later")
	}
	return nil
}

// refused maps a GraphQL error to a core kind (reference, "Errors").
func (c *Client) refused(q gql, e gqlError) error {
	code := e.code()
	msg := strings.TrimSpace(e.Message)
	msg = core.ClipBytes(msg, 300, core.Ellipsis)
	var k core.Kind
	var m string
	switch {
	case code == "entity_does_not_exist":
		k, m = core.KindNotFound, "SuperOps has no "+or(q.subject, "such record")
	case code == "forbidden":
		k, m = core.KindForbidden, "the SuperOps user whose API token Countersign uses may not do this: give its role the permission in SuperOps"
	case code == "rate_limit_exceeded":
		k, m = core.KindRateLimited, "SuperOps's rate limit is reached: try again in a minute"
	case strings.HasPrefix(code, "subscription_"):
		k, m = core.KindForbidden, "the SuperOps account's subscription is "+strings.TrimPrefix(code, "subscription_")+": the integration works again once it is active"
	case code != "":
		k, m = core.KindInvalid, "SuperOps refused it ("+code+"): "+msg
	default:
		// A GraphQL-level error (an unknown field, a bad selection): a
		// query of ours SuperOps does not accept.
		k, m = core.KindInvalid, "SuperOps refused the query: "+msg
	}
	err := newError(q.what, k, nil, m)
	err.Code = code
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// httpFail explains a non-2xx answer.
func (c *Client) httpFail(q gql, err error) error {
	var he *psa.HTTPError
	if !errors.As(err, &he) {
		return fmt.Errorf("superops: %s: %w", q.what, err)
	}
	switch he.Status {
	case http.StatusUnauthorized:
		return newError(q.what, core.KindUnauthorized, err, "SuperOps refused the API token (deleted, or replaced by a newer one): generate a token under Settings › My Profile › API token and paste it on the integration page")
	case http.StatusBadRequest:
		return newError(q.what, core.KindUnauthorized, err, fmt.Sprintf("SuperOps does not know the subdomain %q: check it under Settings › MSP Information", c.cfg.Subdomain))
	}
	return fmt.Errorf("superops: %s: %w", q.what, err)
}

// listInfo is SuperOps' ListInfo. hasMore is null on the last page and
// totalCount has been seen as a string.
type listInfo struct {
	Page    int             `json:"page"`
	HasMore *bool           `json:"hasMore"`
	Total   json.RawMessage `json:"totalCount"`
}

const listInfoFields = `listInfo { page pageSize hasMore totalCount }`

// maxPageSize is the help centre's maximum per request.
const maxPageSize = 100

// maxPages bounds the pages one list follows.
const maxPages = 50
