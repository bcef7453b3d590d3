package memory

import (
	"context"
	"fmt"

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
