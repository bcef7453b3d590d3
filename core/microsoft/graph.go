package microsoft

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
)

// maxPages bounds one listing: at 999 users a page, a million users.
const maxPages = 1000

// userSelect is what Countersign reads of a user (channels.md §3.7;
// onPremisesSyncEnabled true means synced from AD, null or false
// cloud-only).
const userSelect = "id,displayName,userPrincipalName,mail,mobilePhone,onPremisesSyncEnabled,accountEnabled"

type graphUser struct {
	ID                    string `json:"id"`
	DisplayName           string `json:"displayName"`
	UserPrincipalName     string `json:"userPrincipalName"`
	Mail                  string `json:"mail"`
	MobilePhone           string `json:"mobilePhone"`
	OnPremisesSyncEnabled *bool  `json:"onPremisesSyncEnabled"`
	AccountEnabled        *bool  `json:"accountEnabled"`
}

type graphMethod struct {
	Type string `json:"@odata.type"`
	ID   string `json:"id"`
}

type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// graphError is Graph's error body.
type graphError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Check implements core.MicrosoftClient: a Graph token and one user read.
func (c *Client) Check(ctx context.Context) error {
	var p page[graphUser]
	return c.graphGet(ctx, c.graphURL+"/v1.0/users?$select=id&$top=1", &p)
}

// CheckConnector implements core.MicrosoftClient.
func (c *Client) CheckConnector(ctx context.Context) error {
	if c.connector == nil {
		return core.Errorf(core.KindInvalid, "no MFA connector credential (certificate or secret) is set for this tenant")
	}
	_, err := c.connector.token(ctx)
	return err
}

// Users implements core.MicrosoftClient.
func (c *Client) Users(ctx context.Context) ([]core.MicrosoftDirectoryUser, error) {
	users, err := list[graphUser](ctx, c, c.graphURL+"/v1.0/users?$select="+userSelect+"&$top=999")
	if err != nil {
		return nil, err
	}
	out := make([]core.MicrosoftDirectoryUser, 0, len(users))
	for _, u := range users {
		d := core.MicrosoftDirectoryUser{ObjectID: u.ID, UPN: u.UserPrincipalName, Mail: u.Mail, Mobile: u.MobilePhone,
			DisplayName: u.DisplayName, Source: core.MicrosoftCloudOnly, Enabled: u.AccountEnabled == nil || *u.AccountEnabled}
		if u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled {
			d.Source = core.MicrosoftSynced
		}
		out = append(out, d)
	}
	return out, nil
}

// AuthMethods implements core.MicrosoftClient with
// GET /v1.0/users/{id}/authentication/methods.
func (c *Client) AuthMethods(ctx context.Context, user string) ([]string, error) {
	if user == "" {
		return nil, core.Errorf(core.KindInvalid, "no user to read the methods of")
	}
	ms, err := list[graphMethod](ctx, c, c.graphURL+"/v1.0/users/"+url.PathEscape(user)+"/authentication/methods")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Type)
	}
	return out, nil
}

// list reads every page of a Graph collection. A nextLink must stay on
// the Graph host: the token goes with it.
func list[T any](ctx context.Context, c *Client, next string) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	for pages := 0; next != ""; pages++ {
		if pages == maxPages || seen[next] {
			return nil, fmt.Errorf("microsoft: graph: %w: paging did not end", core.ErrUnavailable)
		}
		seen[next] = true
		if !strings.HasPrefix(next, c.graphURL+"/") {
			return nil, fmt.Errorf("microsoft: graph: %w: a next page off the Graph host", core.ErrUnavailable)
		}
		var p page[T]
		if err := c.graphGet(ctx, next, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Value...)
		next = p.NextLink
	}
	return out, nil
}

// graphGet GETs u into out with a Graph token: a refused token is fetched
// again once; 429 and 503 wait and retry within the bounds.
func (c *Client) graphGet(ctx context.Context, u string, out any) error {
	op := "GET " + strings.SplitN(strings.TrimPrefix(u, c.graphURL), "?", 2)[0]
	refreshed := false
	for attempt := 0; ; attempt++ {
		tok, err := c.graph.token(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("microsoft: graph %s: %w", op, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("microsoft: graph %s: %w", op, ctx.Err())
			}
			return fmt.Errorf("microsoft: graph %s: %w: %v", op, core.ErrUnavailable, scrub(err))
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("microsoft: graph %s: %w: %v", op, core.ErrUnavailable, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("microsoft: graph %s: %w: unreadable answer", op, core.ErrUnavailable)
			}
			return nil
		case resp.StatusCode == http.StatusUnauthorized && !refreshed:
			c.graph.drop(tok)
			refreshed = true
			continue
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			wait := retryAfter(resp.Header.Get("Retry-After"), attempt)
			if attempt >= c.maxRetries || wait > c.maxRetryWait {
				return fmt.Errorf("microsoft: graph %s: %w: Microsoft throttled %d times (Retry-After %s)",
					op, core.ErrRateLimited, attempt+1, wait)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("microsoft: graph %s: %w", op, ctx.Err())
			case <-t.C:
			}
			continue
		case resp.StatusCode >= 500:
			return fmt.Errorf("microsoft: graph %s: %w: HTTP %d", op, core.ErrUnavailable, resp.StatusCode)
		}
		var ge graphError
		_ = json.Unmarshal(body, &ge) // a body that is not JSON leaves the code out
		me := &core.MicrosoftError{HTTPStatus: resp.StatusCode, Code: ge.Error.Code, Message: firstLine(ge.Error.Message)}
		if me.Code == "" {
			me.Code = http.StatusText(resp.StatusCode)
		}
		return fmt.Errorf("microsoft: graph %s: %w", op, me)
	}
}

// retryAfter returns how long to wait before retrying a throttled call.
// Graph sends Retry-After in seconds; an HTTP-date is allowed too (RFC
// 9110 §10.2.3); a missing or unparsable value falls back to 1, 2, 4 … s.
func retryAfter(h string, attempt int) time.Duration {
	h = strings.TrimSpace(h)
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return time.Second << min(attempt, 5)
}
