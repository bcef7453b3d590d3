package connectwise

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// MemberAuth is what a ConnectWise Hosted API pod's getMemberAuthentication
// request returns for the technician signed in to ConnectWise (reference
// §8.5): memberid, memberHash and memberContext. It is client-supplied data
// and proves nothing until ConnectWise has accepted it ([Client.VerifyMember]).
// Hash and Context are secrets: [MemberAuth.String] and
// [MemberAuth.LogValue] redact them.
type MemberAuth struct {
	MemberID string // the member's identifier ("jsmith")
	Hash     string
	Context  string
}

// String describes a without its secrets.
func (a MemberAuth) String() string {
	return fmt.Sprintf("connectwise.MemberAuth{MemberID:%q Hash:%s Context:%s}", a.MemberID, redactedIfSet(a.Hash), redactedIfSet(a.Context))
}

// GoString is String, so that %#v does not print the secrets either.
func (a MemberAuth) GoString() string { return a.String() }

// LogValue describes a in slog records without its secrets.
func (a MemberAuth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("member_id", a.MemberID),
		slog.String("hash", redactedIfSet(a.Hash)), slog.String("context", redactedIfSet(a.Context)))
}

// Validate checks a's strings before any of them reaches a header
// (reference §9 step 2): a ";" would let a caller add cookies of its own,
// a ":" would move the Basic password.
func (a MemberAuth) Validate() error {
	switch {
	case len(a.MemberID) < 1 || len(a.MemberID) > 100 || !printableWithout(a.MemberID, ":;,\"\\ "):
		return core.Errorf(core.KindInvalid, "the ConnectWise member id from the pod is not valid")
	case len(a.Hash) < 8 || len(a.Hash) > 2048 || !printableWithout(a.Hash, ";,\"\\ "):
		return core.Errorf(core.KindInvalid, "the ConnectWise member hash from the pod is not valid")
	case len(a.Context) < 1 || len(a.Context) > 4096 || !printableWithout(a.Context, ";,\"\\ "):
		return core.Errorf(core.KindInvalid, "the ConnectWise member context from the pod is not valid")
	}
	return nil
}

// WithMember returns a client that calls ConnectWise as the technician a
// belongs to, under that technician's own security role, instead of as the
// API member. It shares c's caches, and remembers per tenant which
// member-auth form ConnectWise accepted (reference §2.5). It makes no
// request.
func (c *Client) WithMember(a MemberAuth) (*Client, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	mc := *c
	mc.member = &a
	mc.log = c.log.With(slog.String("member_id", a.MemberID))
	return &mc, nil
}

type wireMyMember struct {
	ID           int     `json:"id"`
	Identifier   string  `json:"identifier"`
	FirstName    string  `json:"firstName"`
	LastName     string  `json:"lastName"`
	FullName     string  `json:"fullName"`
	DefaultEmail string  `json:"defaultEmail"`
	LicenseClass *string `json:"licenseClass"`
	InactiveFlag *bool   `json:"inactiveFlag"`
}

func (w wireMyMember) member() psa.Member {
	m := psa.Member{Ref: strconv.Itoa(w.ID), Identifier: w.Identifier, Name: strings.TrimSpace(w.FullName)}
	if m.Name == "" {
		m.Name = strings.TrimSpace(w.FirstName + " " + w.LastName)
	}
	// Whether defaultEmail holds an address or the Office/Mobile/Home
	// choice is unconfirmed (reference §7.7): keep it only if it is an
	// address.
	if strings.Contains(w.DefaultEmail, "@") {
		m.Email = w.DefaultEmail
	}
	return m
}

// IdentifyMember implements [psa.MemberIdentifier]: GET
// /system/myMembers/info with the client's credentials. For a client from
// [New] that is the API member; for one from [Client.WithMember], the
// technician (use [Client.VerifyMember] to prove a pod's technician).
func (c *Client) IdentifyMember(ctx context.Context) (psa.Member, error) {
	w, err := c.myMemberInfo(ctx)
	if err != nil {
		return psa.Member{}, err
	}
	return w.member(), nil
}

func (c *Client) myMemberInfo(ctx context.Context) (wireMyMember, error) {
	var w wireMyMember
	_, err := c.getJSON(ctx, call{
		what: "identify member", op: "GET /system/myMembers/info", method: http.MethodGet, path: "/system/myMembers/info",
		query:   url.Values{"fields": {"id,identifier,firstName,lastName,fullName,defaultEmail,licenseClass,inactiveFlag"}},
		subject: "member for these credentials", area: "reading its own member record",
	}, &w)
	if err == nil && w.ID == 0 {
		err = newError("identify member", core.KindUnavailable, nil, "ConnectWise did not say which member these credentials belong to")
	}
	return w, err
}

// VerifyMember proves which technician a pod's member credentials belong
// to (reference §9 steps 4–5): ConnectWise must accept them, name a member
// whose identifier is a.MemberID (case aside, so that one technician's hash
// cannot be presented under a colleague's id), who is active and not an
// API member. Key technicians by the returned Ref. It is
// core.ErrUnauthorized when ConnectWise rejects the credentials or the
// identifier differs, core.ErrForbidden for an inactive or API member.
func (c *Client) VerifyMember(ctx context.Context, a MemberAuth) (psa.Member, error) {
	const what = "verify member"
	mc, err := c.WithMember(a)
	if err != nil {
		return psa.Member{}, err
	}
	w, err := mc.myMemberInfo(ctx)
	if err != nil {
		return psa.Member{}, c.wrapWhat(what, err)
	}
	switch {
	case !strings.EqualFold(strings.TrimSpace(w.Identifier), a.MemberID):
		c.log.WarnContext(ctx, "connectwise member credentials belong to another member",
			slog.String("claimed", a.MemberID), slog.String("actual", w.Identifier))
		return psa.Member{}, newError(what, core.KindUnauthorized, nil, "the ConnectWise sign-in from the pod is not member %q's", a.MemberID)
	case isTrue(w.InactiveFlag):
		return psa.Member{}, newError(what, core.KindForbidden, nil, "ConnectWise member %q is inactive", w.Identifier)
	case w.LicenseClass != nil && strings.EqualFold(*w.LicenseClass, "A"):
		return psa.Member{}, newError(what, core.KindForbidden, nil, "ConnectWise member %q is an API member, not a technician", w.Identifier)
	}
	return w.member(), nil
}

type wireMember struct {
	ID           int     `json:"id"`
	Identifier   string  `json:"identifier"`
	FirstName    string  `json:"firstName"`
	LastName     string  `json:"lastName"`
	OfficeEmail  string  `json:"officeEmail"`
	InactiveFlag *bool   `json:"inactiveFlag"`
	LicenseClass *string `json:"licenseClass"`
	MobilePhone  string  `json:"mobilePhone"`
	OfficePhone  string  `json:"officePhone"`
}

// defaultMemberPage is ListMembers' page when the caller names none: an
// MSP's members fit in one or two.
const defaultMemberPage = 100

// ListMembers implements [psa.MemberLister]: the active members that are
// people (GET /system/members?conditions=inactiveFlag=false, API members
// of license class "A" left out), forward-only paged by id like
// ListCompanies, each with its office e-mail and its mobile (else office)
// phone.
func (c *Client) ListMembers(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Member], error) {
	const what = "list members"
	size := o.PageSize
	if size <= 0 {
		size = defaultMemberPage
	}
	size = min(size, maxPageSize)
	q := url.Values{
		"conditions": {"inactiveFlag=false"},
		"fields":     {"id,identifier,firstName,lastName,officeEmail,inactiveFlag,licenseClass,mobilePhone,officePhone"},
		"pageSize":   {strconv.Itoa(size)},
	}
	after := 0
	if o.Cursor != "" {
		n, err := strconv.Atoi(o.Cursor)
		if err != nil || n < 1 {
			return psa.Page[psa.Member]{}, core.Errorf(core.KindInvalid, "member list cursor %q is not one this client made", o.Cursor)
		}
		after = n
		q.Set("pageId", o.Cursor)
	}
	cl := call{
		what: what, op: "GET /system/members", method: http.MethodGet, path: "/system/members", query: q,
		header: http.Header{"Pagination-Type": {"forward-only"}},
		area:   "reading members (System › Member Maintenance, inquire)",
	}
	var ws []wireMember
	h, err := c.getJSON(ctx, cl, &ws)
	if err != nil {
		return psa.Page[psa.Member]{}, err
	}
	if len(ws) > size {
		return psa.Page[psa.Member]{}, newError(what, core.KindUnavailable, nil,
			"ConnectWise sent %d members for a page of %d: refusing an oversized answer", len(ws), size)
	}
	out := psa.Page[psa.Member]{Items: []psa.Member{}}
	last := after
	for _, w := range ws {
		if w.ID <= last {
			return psa.Page[psa.Member]{}, newError(what, core.KindUnavailable, nil, "ConnectWise sent members out of id order in a forward-only page")
		}
		last = w.ID
		if isTrue(w.InactiveFlag) || w.LicenseClass != nil && strings.EqualFold(*w.LicenseClass, "A") {
			continue // asked for active members; API members are integrations, not people
		}
		m := psa.Member{Ref: strconv.Itoa(w.ID), Identifier: w.Identifier, Name: strings.TrimSpace(w.FirstName + " " + w.LastName),
			Email: strings.TrimSpace(w.OfficeEmail)}
		if m.Phone = strings.TrimSpace(w.MobilePhone); m.Phone == "" {
			m.Phone = strings.TrimSpace(w.OfficePhone)
		}
		out.Items = append(out.Items, m)
	}
	next, err := c.nextLink(h, cl)
	if err != nil {
		return psa.Page[psa.Member]{}, err
	}
	if next != nil && len(ws) > 0 {
		out.Next = strconv.Itoa(last)
	}
	return out, nil
}

// FindMember returns the member whose login identifier is identifier (GET
// /system/members?conditions=identifier="…"), or core.ErrNotFound.
func (c *Client) FindMember(ctx context.Context, identifier string) (psa.Member, error) {
	what := "find member"
	q, err := quote("member identifier", strings.TrimSpace(identifier))
	if err != nil {
		return psa.Member{}, err
	}
	ws, err := listAll[wireMember](ctx, c, call{
		what: what, op: "GET /system/members", method: http.MethodGet, path: "/system/members",
		query: url.Values{"conditions": {"identifier=" + q}, "fields": {"id,identifier,firstName,lastName,officeEmail,inactiveFlag"}},
		area:  "reading members (System › Member Maintenance, inquire)",
	}, 25, 25)
	if err != nil {
		return psa.Member{}, err
	}
	for _, w := range ws {
		if strings.EqualFold(w.Identifier, strings.TrimSpace(identifier)) {
			return psa.Member{Ref: strconv.Itoa(w.ID), Identifier: w.Identifier,
				Name: strings.TrimSpace(w.FirstName + " " + w.LastName), Email: w.OfficeEmail}, nil
		}
	}
	return psa.Member{}, newError(what, core.KindNotFound, nil, "ConnectWise has no member %q", identifier)
}
