package halo

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireUser is a Halo end user (schema Users), holding only the fields we
// read. site_id is declared a double ("34.0") and is read leniently;
// site_id_int, when present, is the same id as an integer.
type wireUser struct {
	ID           int     `json:"id"`
	Name         string  `json:"name"`
	FirstName    string  `json:"firstname"`
	Surname      string  `json:"surname"`
	Title        string  `json:"title"`
	Email        string  `json:"emailaddress"`
	Email2       string  `json:"email2"`
	Email3       string  `json:"email3"`
	Phone        string  `json:"phonenumber"`
	Home         string  `json:"homenumber"`
	Mobile       string  `json:"mobilenumber"`
	Mobile2      string  `json:"mobilenumber2"`
	ClientID     flexInt `json:"client_id"`
	SiteID       flexInt `json:"site_id"`
	SiteIDInt    *int    `json:"site_id_int"`
	Inactive     *bool   `json:"inactive"`
	ClientName   string  `json:"client_name"`
	SiteName     string  `json:"site_name"`
	PreferredTel *int    `json:"telpref"`
}

// newUser is the element of POST /api/Users's array: only fields we set.
type newUser struct {
	FirstName string `json:"firstname"`
	Surname   string `json:"surname,omitempty"`
	Name      string `json:"name,omitempty"`
	Title     string `json:"title,omitempty"`
	Email     string `json:"emailaddress,omitempty"`
	Email2    string `json:"email2,omitempty"`
	Email3    string `json:"email3,omitempty"`
	Phone     string `json:"phonenumber,omitempty"`
	Home      string `json:"homenumber,omitempty"`
	Mobile    string `json:"mobilenumber,omitempty"`
	Mobile2   string `json:"mobilenumber2,omitempty"`
	ClientID  int    `json:"client_id,omitempty"`
	SiteID    int    `json:"site_id,omitempty"`
}

// Phone labels, for the fields a Halo user has.
const (
	labelPhone   = "Phone"
	labelHome    = "Home"
	labelMobile  = "Mobile"
	labelMobile2 = "Mobile 2"
)

func (w wireUser) contact() psa.Contact {
	ct := psa.Contact{Ref: strconv.Itoa(w.ID), FirstName: strings.TrimSpace(w.FirstName), LastName: strings.TrimSpace(w.Surname), Title: w.Title}
	if ct.FirstName == "" && ct.LastName == "" {
		ct.FirstName = strings.TrimSpace(w.Name)
	}
	if w.ClientID > 0 {
		ct.CompanyRef = strconv.Itoa(int(w.ClientID))
	}
	for i, e := range []string{w.Email, w.Email2, w.Email3} {
		if e = strings.TrimSpace(e); e != "" {
			ct.Emails = append(ct.Emails, psa.Email{Address: e, Label: []string{"Email", "Email 2", "Email 3"}[i], Default: i == 0})
		}
	}
	// Mobiles first: they are the SMS candidates.
	first := true
	for _, p := range []struct{ n, label string }{{w.Mobile, labelMobile}, {w.Mobile2, labelMobile2}, {w.Phone, labelPhone}, {w.Home, labelHome}} {
		if n := strings.TrimSpace(p.n); n != "" {
			ct.Phones = append(ct.Phones, psa.Phone{Number: n, Label: p.label, Default: first})
			first = false
		}
	}
	return ct
}

// siteID returns the user's site as an integer.
func (w wireUser) siteID() int {
	if w.SiteIDInt != nil && *w.SiteIDInt > 0 {
		return *w.SiteIDInt
	}
	return int(w.SiteID)
}

// Limits of user searches: a search finds a caller; more matches than
// this means it was too vague to help a technician choose.
const (
	usersPageSize = 100
	maxUsers      = 2000
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

const areaUsers = "reading users (permission read:customers)"

// FindContacts implements [psa.ContactFinder] over Halo's end users.
// Halo's search is a "like" match, so the client asks it for candidates
// and keeps only exact matches here: an email address against emailaddress,
// email2 and email3, case aside; a phone number, in E.164, against
// mobilenumber, mobilenumber2, phonenumber and homenumber normalised in
// the config's phone region (Halo is searched for its last four digits,
// search_phonenumbers=true; when that finds nothing within a client, the
// client's users are listed and compared here, to catch numbers
// punctuated inside those digits); a name against first name, surname or
// both. Inactive users are left out.
func (c *Client) FindContacts(ctx context.Context, companyRef string, s psa.ContactSearch) ([]psa.Contact, error) {
	if companyRef == "" && s.IsZero() {
		return nil, core.Errorf(core.KindInvalid, "a contact search needs a client or something to search for")
	}
	s.Name = strings.Join(strings.Fields(s.Name), " ")
	s.Email = strings.TrimSpace(s.Email)
	s.Phone = strings.TrimSpace(s.Phone)
	if s.Phone != "" && !e164.MatchString(s.Phone) {
		return nil, core.Errorf(core.KindInvalid, "phone number %q to search for must be in E.164, e.g. +15550100100", short(s.Phone))
	}
	q := url.Values{}
	if companyRef != "" {
		id, err := parseID("client", companyRef)
		if err != nil {
			return nil, err
		}
		q.Set("client_id", strconv.Itoa(id))
	}
	switch {
	case s.Email != "":
		q.Set("search", s.Email)
	case s.Phone != "":
		q.Set("search", s.Phone[len(s.Phone)-4:])
		q.Set("search_phonenumbers", "true")
	case s.Name != "":
		q.Set("search", s.Name)
	}
	found, err := c.matchUsers(ctx, q, s, companyRef)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 && s.Phone != "" && s.Email == "" && companyRef != "" {
		q.Del("search")
		q.Del("search_phonenumbers")
		found, err = c.matchUsers(ctx, q, s, companyRef)
		if errors.Is(err, errTooMany) {
			c.log.WarnContext(ctx, "halo phone search fallback: client too large to scan", "client", companyRef)
			return []psa.Contact{}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// matchUsers lists the users q selects and keeps those matching s (and,
// whatever Halo's filtering does, only those of companyRef).
func (c *Client) matchUsers(ctx context.Context, q url.Values, s psa.ContactSearch, companyRef string) ([]psa.Contact, error) {
	ws, err := listAll[wireUser](ctx, c, call{
		what: "find users", op: "GET /api/Users", method: http.MethodGet, path: "/Users", query: q, area: areaUsers,
	}, "users", usersPageSize, maxUsers)
	if err != nil {
		return nil, err
	}
	out := []psa.Contact{}
	for _, w := range ws {
		if w.Inactive != nil && *w.Inactive {
			continue
		}
		ct := w.contact()
		if companyRef != "" && ct.CompanyRef != companyRef {
			continue
		}
		if s.Matches(ct, c.cfg.PhoneRegion) {
			out = append(out, ct)
		}
	}
	return out, nil
}

// GetContact implements [psa.ContactGetter]: GET /api/Users/{id}.
func (c *Client) GetContact(ctx context.Context, ref string) (psa.Contact, error) {
	w, err := c.getUser(ctx, ref)
	if err != nil {
		return psa.Contact{}, err
	}
	return w.contact(), nil
}

func (c *Client) getUser(ctx context.Context, ref string) (wireUser, error) {
	id, err := parseID("user", ref)
	if err != nil {
		return wireUser{}, err
	}
	sid := strconv.Itoa(id)
	var w wireUser
	if err := c.getJSON(ctx, call{
		what: "get user " + sid, op: "GET /api/Users/{id}", method: http.MethodGet, path: "/Users/" + sid,
		subject: "user " + sid, area: areaUsers,
	}, &w); err != nil {
		return wireUser{}, err
	}
	if w.ID != id {
		// Halo answers some missing records with an empty object.
		return wireUser{}, newError("get user "+sid, core.KindNotFound, nil, "Halo has no user %s", sid)
	}
	return w, nil
}

// CreateContact implements [psa.ContactCreator]: POST /api/Users under
// the client's main site (read with GET /api/Client/{id}: Halo files every
// user under a site). Up to three email addresses go to emailaddress,
// email2 and email3; phones labelled as mobiles (or the first phones,
// when none is) to mobilenumber and mobilenumber2, the others to
// phonenumber and homenumber. More than Halo has room for is an error of
// kind core.ErrInvalid.
func (c *Client) CreateContact(ctx context.Context, in psa.Contact) (psa.Contact, error) {
	const what = "create user"
	if strings.TrimSpace(in.FirstName) == "" && strings.TrimSpace(in.LastName) == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "Halo needs a name for a new user")
	}
	if in.CompanyRef == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "Halo files every user under a client: choose one")
	}
	clientID, err := parseID("client", in.CompanyRef)
	if err != nil {
		return psa.Contact{}, err
	}
	body := newUser{FirstName: strings.TrimSpace(in.FirstName), Surname: strings.TrimSpace(in.LastName), Title: strings.TrimSpace(in.Title), ClientID: clientID}
	body.Name = strings.TrimSpace(body.FirstName + " " + body.Surname)
	if len(in.Emails) > 3 {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "a Halo user has room for three email addresses, not %d", len(in.Emails))
	}
	for i, e := range in.Emails {
		*[]*string{&body.Email, &body.Email2, &body.Email3}[i] = strings.TrimSpace(e.Address)
	}
	var mobiles, others []string
	for _, p := range in.Phones {
		if strings.Contains(strings.ToLower(p.Label), "mobile") || strings.Contains(strings.ToLower(p.Label), "cell") {
			mobiles = append(mobiles, strings.TrimSpace(p.Number))
		} else {
			others = append(others, strings.TrimSpace(p.Number))
		}
	}
	if len(mobiles) == 0 && len(others) > 0 {
		// No number is labelled a mobile: the first is the one to text.
		mobiles, others = others[:1], others[1:]
	}
	if len(mobiles) > 2 || len(others) > 2 {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "a Halo user has room for two mobile and two other numbers")
	}
	for i, n := range mobiles {
		*[]*string{&body.Mobile, &body.Mobile2}[i] = n
	}
	for i, n := range others {
		*[]*string{&body.Phone, &body.Home}[i] = n
	}
	cl, err := c.getClient(ctx, clientID)
	if err != nil {
		return psa.Contact{}, c.wrapWhat(what, err)
	}
	body.SiteID = int(cl.MainSiteID)
	var w wireUser
	if err := c.post(ctx, call{
		what: what, op: "POST /api/Users", method: http.MethodPost, path: "/Users", body: []newUser{body},
		area: "adding users (permission edit:customers)",
	}, &w); err != nil {
		return psa.Contact{}, err
	}
	if w.ID == 0 {
		return psa.Contact{}, newError(what, core.KindUnavailable, nil, "Halo created the user but did not say its id")
	}
	return w.contact(), nil
}
