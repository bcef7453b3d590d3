package halo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireAgent is a Halo agent (schema Uname).
type wireAgent struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	FirstName  string `json:"firstname"`
	Surname    string `json:"surname"`
	Email      string `json:"email"`
	SMS        string `json:"sms"`
	IsDisabled *bool  `json:"isdisabled"`
	IsAPI      *bool  `json:"isapiagent"`
}

func (w wireAgent) member() psa.Member {
	m := psa.Member{Ref: strconv.Itoa(w.ID), Name: strings.TrimSpace(w.Name), Email: strings.TrimSpace(w.Email)}
	if m.Name == "" {
		m.Name = strings.TrimSpace(w.FirstName + " " + w.Surname)
	}
	return m
}

const areaAgents = "reading agents (permission read:tickets or admin)"

// IdentifyMember implements [psa.MemberIdentifier]: GET /api/Agent/me,
// the agent the API application logs in as.
func (c *Client) IdentifyMember(ctx context.Context) (psa.Member, error) {
	var w wireAgent
	if err := c.getJSON(ctx, call{
		what: "identify agent", op: "GET /api/Agent/me", method: http.MethodGet, path: "/Agent/me",
		subject: "agent for this application", area: areaAgents,
	}, &w); err != nil {
		return psa.Member{}, err
	}
	if w.ID == 0 {
		return psa.Member{}, newError("identify agent", core.KindUnavailable, nil, "Halo did not say which agent the API application logs in as: pick an agent to log in as on the application")
	}
	return w.member(), nil
}

// Agents lists the instance's enabled agents (GET /api/Agent, which Halo
// answers with a bare array, unlike its other lists); search, when not
// "", narrows them by name, e-mail or phone.
func (c *Client) Agents(ctx context.Context, search string) ([]psa.Member, error) {
	q := url.Values{}
	if s := strings.TrimSpace(search); s != "" {
		q.Set("search", s)
	}
	cl := call{what: "list agents", op: "GET /api/Agent", method: http.MethodGet, path: "/Agent", query: q, area: areaAgents}
	resp, err := c.send(ctx, cl)
	if err != nil {
		return nil, err
	}
	var ws []wireAgent
	if err := decodeList(resp, "agents", &ws); err != nil {
		return nil, c.decodeFail(cl.what, err)
	}
	out := make([]psa.Member, 0, len(ws))
	for _, w := range ws {
		if w.IsDisabled != nil && *w.IsDisabled {
			continue
		}
		out = append(out, w.member())
	}
	return out, nil
}

// defaultMemberPage is ListMembers' page when the caller names none.
const defaultMemberPage = 100

// ListMembers implements [psa.MemberLister] with GET /api/Agent: the
// instance's enabled agents, with their e-mail and their SMS number
// (Uname's sms, the one number an agent record has), API-only agents left
// out (isapiagent: the application's own login is no technician). Halo
// pages no agent list — /api/Agent declares no page_size or page_no and
// answers with a bare array — so each call reads the list and cuts out
// the page the cursor names (its first index): an instance has tens of
// agents, not thousands.
func (c *Client) ListMembers(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Member], error) {
	size := o.PageSize
	if size <= 0 {
		size = defaultMemberPage
	}
	from := 0
	if o.Cursor != "" {
		n, err := strconv.Atoi(o.Cursor)
		if err != nil || n < 1 || n > 100000 {
			return psa.Page[psa.Member]{}, core.Errorf(core.KindInvalid, "halo: %q is not a cursor of this client", short(o.Cursor))
		}
		from = n
	}
	cl := call{what: "list agents", op: "GET /api/Agent", method: http.MethodGet, path: "/Agent", area: areaAgents}
	resp, err := c.send(ctx, cl)
	if err != nil {
		return psa.Page[psa.Member]{}, err
	}
	var ws []wireAgent
	if err := decodeList(resp, "agents", &ws); err != nil {
		return psa.Page[psa.Member]{}, c.decodeFail(cl.what, err)
	}
	active := make([]psa.Member, 0, len(ws))
	for _, w := range ws {
		if w.ID < 1 || (w.IsDisabled != nil && *w.IsDisabled) || (w.IsAPI != nil && *w.IsAPI) {
			continue
		}
		m := w.member()
		m.Phone = strings.TrimSpace(w.SMS)
		active = append(active, m)
	}
	out := psa.Page[psa.Member]{Items: []psa.Member{}}
	if from >= len(active) {
		return out, nil
	}
	to := min(from+size, len(active))
	out.Items = append(out.Items, active[from:to]...)
	if to < len(active) {
		out.Next = strconv.Itoa(to)
	}
	return out, nil
}

// decodeList decodes a list that Halo sends as a bare array, or wrapped
// under key, into v, and closes the body.
func decodeList(resp *http.Response, key string, v any) error {
	var raw json.RawMessage
	if err := psa.DecodeJSON(resp, &raw); err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("decode response: %w: %w", core.ErrUnavailable, err)
		}
		inner, ok := m[key]
		if !ok {
			return fmt.Errorf("decode response: %w: no %q list", core.ErrUnavailable, key)
		}
		raw = inner
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode response: %w: %w", core.ErrUnavailable, err)
	}
	return nil
}
