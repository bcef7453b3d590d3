package autotask

import (
	"context"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireResource is a Resources record (a technician). isActive is a
// boolean here, unlike on Contacts.
type wireResource struct {
	ID        int64  `json:"id"`
	UserName  string `json:"userName"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
	Email2    string `json:"email2"`
	Email3    string `json:"email3"`
	IsActive  *bool  `json:"isActive"`
}

var resourceFields = []string{"id", "userName", "firstName", "lastName", "email", "email2", "email3", "isActive"}

const resourcesArea = "reading resources (Admin: view resources)"

// resourceTTL is how long a technician's resource mapping is trusted.
const resourceTTL = time.Hour

type cachedResource struct {
	m  psa.Member
	at time.Time
}

func (w wireResource) toMember() psa.Member {
	return psa.Member{Ref: idRef(w.ID), Identifier: w.UserName,
		Name: strings.TrimSpace(w.FirstName + " " + w.LastName), Email: w.Email}
}

// APIUser returns the resource behind the API user's username (one query),
// for the setup page. It is not [psa.MemberIdentifier]: the API user is an
// integration account, never the technician looking at the Insight.
func (c *Client) APIUser(ctx context.Context) (psa.Member, error) {
	const what = "identify the API user"
	ws, _, err := queryPage[wireResource](ctx, c, what, "Resources", resourcesArea,
		queryModel{MaxRecords: 2, IncludeFields: resourceFields, Filter: []filter{eq("userName", c.cfg.UserName)}})
	if err != nil {
		return psa.Member{}, err
	}
	for _, w := range ws {
		if strings.EqualFold(w.UserName, c.cfg.UserName) {
			return w.toMember(), nil
		}
	}
	return psa.Member{}, newError(what, core.KindNotFound, nil, "Autotask has no resource with username %q", c.cfg.UserName)
}

// ResourceByEmail returns the active resource whose e-mail (any of the
// three) is email: how a technician Countersign signed in is mapped to the
// resource [Client.AsResource] acts as. Answers are cached for an hour; a
// miss is core.ErrNotFound.
func (c *Client) ResourceByEmail(ctx context.Context, email string) (psa.Member, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") {
		return psa.Member{}, core.Errorf(core.KindInvalid, "%q is not an email address", email)
	}
	c.st.mu.Lock()
	cr, ok := c.st.resources[email]
	c.st.mu.Unlock()
	if ok && c.now().Sub(cr.at) < resourceTTL {
		return cr.m, nil
	}
	const what = "find the technician's resource"
	ws, _, err := queryPage[wireResource](ctx, c, what, "Resources", resourcesArea, queryModel{MaxRecords: 10,
		IncludeFields: resourceFields, Filter: []filter{or(eq("email", email), eq("email2", email), eq("email3", email))}})
	if err != nil {
		return psa.Member{}, err
	}
	var found []psa.Member
	for _, w := range ws {
		if w.IsActive != nil && !*w.IsActive {
			continue
		}
		for _, e := range []string{w.Email, w.Email2, w.Email3} {
			if strings.EqualFold(strings.TrimSpace(e), email) {
				found = append(found, w.toMember())
				break
			}
		}
	}
	if len(found) != 1 {
		// None, or two resources sharing an address: acting as either
		// could be acting as the wrong person.
		return psa.Member{}, newError(what, core.KindNotFound, nil, "Autotask has %d active resources with email %s", len(found), email)
	}
	c.st.mu.Lock()
	c.st.resources[email] = cachedResource{m: found[0], at: c.now()}
	c.st.mu.Unlock()
	return found[0], nil
}
