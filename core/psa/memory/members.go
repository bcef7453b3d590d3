package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"

	"github.com/countersign/countersign/core/psa"
)

// IdentifyMember implements [psa.MemberIdentifier]: the member the API key
// belongs to.
func (c *Client) IdentifyMember(ctx context.Context) (psa.Member, error) {
	var w wireMember
	if _, err := c.get(ctx, "GET /me", "me", nil, &w); err != nil {
		return psa.Member{}, fmt.Errorf("memory: identify member: %w", err)
	}
	return psa.Member{Ref: w.ID, Identifier: w.Username, Name: w.Name, Email: w.Email}, nil
}

// ListMembers implements [psa.MemberLister]: GET /members?active=true. The
// cursor is the server's.
func (c *Client) ListMembers(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Member], error) {
	const op = "memory: list members"
	q := url.Values{"active": {"true"}}
	if o.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(min(o.PageSize, maxPageSize)))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	var page []wireMember
	h, err := c.get(ctx, "GET /members", "members", q, &page)
	if err != nil {
		return psa.Page[psa.Member]{}, fmt.Errorf("%s: %w", op, err)
	}
	out := psa.Page[psa.Member]{Items: []psa.Member{}}
	for _, w := range page {
		if w.ID == "" || w.Active != nil && !*w.Active {
			continue // asked for active members only; never trust the filter blindly
		}
		out.Items = append(out.Items, psa.Member{Ref: w.ID, Identifier: w.Username, Name: w.Name, Email: w.Email, Phone: w.Phone})
	}
	if out.Next, err = c.nextCursor(h, op, "members"); err != nil {
		return psa.Page[psa.Member]{}, err
	}
	return out, nil
}

// maxProofLen bounds a member proof: a token in a small JSON object.
const maxProofLen = 512

// ProveMember implements [psa.MemberProver]: the proof is the PSA session
// token its screens hand the pod ({"token": …}), which the PSA itself
// confirms. It fails closed: any error, the PSA's or ours, is an error.
func (c *Client) ProveMember(ctx context.Context, proof json.RawMessage) (psa.Member, error) {
	var p wireSessionProof
	dec := json.NewDecoder(bytes.NewReader(proof))
	dec.DisallowUnknownFields()
	if len(proof) > maxProofLen || dec.Decode(&p) != nil || !strings.HasPrefix(p.Token, "mps_") || len(p.Token) > 100 {
		return psa.Member{}, core.Errorf(core.KindUnauthorized, "the pod's member proof is not a memory PSA session")
	}
	var w wireMember
	if err := c.post(ctx, "POST /member-sessions/verify", "member-sessions/verify", p, &w); err != nil {
		if k := core.ErrorKind(err); k == core.KindUnauthorized || k == core.KindNotFound {
			return psa.Member{}, core.Errorf(core.KindUnauthorized, "the memory PSA did not accept the member's session")
		}
		return psa.Member{}, fmt.Errorf("memory: prove member: %w", err)
	}
	if w.ID == "" {
		return psa.Member{}, core.Errorf(core.KindUnauthorized, "the memory PSA named no member for the session")
	}
	return psa.Member{Ref: w.ID, Identifier: w.Username, Name: w.Name, Email: w.Email}, nil
}

// ReadAs confirms proof as [Client.ProveMember] does and returns a client
// that reads and writes with that member's own session, and so with the
// member's rights in the PSA, and the member. It is [psa.MemberReader]'s
// AsMember under another name: a plugin that reads as the member makes
// every pod read carry the member's proof, and the demo's pods read with
// the API key, so a descriptor opts in by wrapping the client (core/web's
// tests do).
func (c *Client) ReadAs(ctx context.Context, proof json.RawMessage) (*Client, psa.Member, error) {
	m, err := c.ProveMember(ctx, proof)
	if err != nil {
		return nil, m, err
	}
	var p wireSessionProof
	_ = json.Unmarshal(proof, &p) // ProveMember decoded it
	as := *c
	as.apiKey = p.Token
	return &as, m, nil
}
