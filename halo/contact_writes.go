package halo

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Contact writes of SMS opt-in forms (issue 18 item 4): a corrected mobile
// number, written to the user's own field (POST /api/Users with the id and
// that one field: Halo updates only the fields sent), and the note that
// the form was sent, as a CRM note (POST /api/CRMNote, schema AreaNote):
// Halo's notes on a client, which name one of its users with user_id.

// userPhone is the element of POST /api/Users's array that changes one
// number of a user; exactly one of the fields is set.
type userPhone struct {
	ID      int     `json:"id"`
	Mobile  *string `json:"mobilenumber,omitempty"`
	Mobile2 *string `json:"mobilenumber2,omitempty"`
	Phone   *string `json:"phonenumber,omitempty"`
	Home    *string `json:"homenumber,omitempty"`
}

// crmNote is the element of POST /api/CRMNote's array.
type crmNote struct {
	ClientID int    `json:"client_id"`
	SiteID   int    `json:"site_id,omitempty"`
	UserID   int    `json:"user_id"`
	Note     string `json:"note"`
}

const areaUserWrite = "editing users (permission edit:customers)"

// SetContactPhone implements [psa.ContactPhoneSetter]. The user is read
// afresh (GET /api/Users/{id}); the one of mobilenumber, mobilenumber2,
// phonenumber and homenumber that reads as the same E.164 number as
// ch.Old in the config's phone region is replaced by ch.New. A user
// without it gets ch.New in the first empty mobile field (or, for a
// label that is not a mobile's, the first empty phone field); a user whose
// fields of that kind are all taken is an error of kind core.ErrInvalid,
// for a technician to settle: no number of theirs is overwritten unasked.
func (c *Client) SetContactPhone(ctx context.Context, contactRef string, ch psa.PhoneChange) error {
	if !e164.MatchString(ch.New) {
		return core.Errorf(core.KindInvalid, "halo: %q is not an E.164 phone number", short(ch.New))
	}
	u, err := c.getUser(ctx, contactRef)
	if err != nil {
		return err
	}
	what := "change the phone of user " + strconv.Itoa(u.ID)
	oldE164 := ""
	if ch.Old != "" {
		oldE164, _ = core.NormalizePhone(ch.Old, c.cfg.PhoneRegion)
	}
	body := userPhone{ID: u.ID}
	fields := []struct {
		val    string
		dst    **string
		mobile bool
	}{{u.Mobile, &body.Mobile, true}, {u.Mobile2, &body.Mobile2, true}, {u.Phone, &body.Phone, false}, {u.Home, &body.Home, false}}
	target := -1
	for i, f := range fields {
		v, err := core.NormalizePhone(strings.TrimSpace(f.val), c.cfg.PhoneRegion)
		switch {
		case strings.TrimSpace(f.val) == "" || err != nil:
		case v == ch.New:
			return nil // already there
		case target < 0 && oldE164 != "" && v == oldE164:
			target = i
		}
	}
	if target < 0 {
		l := strings.ToLower(ch.Label)
		mobile := l == "" || strings.Contains(l, "mobile") || strings.Contains(l, "cell")
		for i, f := range fields {
			if f.mobile == mobile && strings.TrimSpace(f.val) == "" {
				target = i
				break
			}
		}
		if target < 0 {
			kind := "mobile"
			if !mobile {
				kind = "phone"
			}
			return newError(what, core.KindInvalid, nil, "Halo user %d has no empty %s field for %s: change the number in Halo", u.ID, kind, ch.New)
		}
	}
	n := ch.New
	*fields[target].dst = &n
	return c.post(ctx, call{
		what: what, op: "POST /api/Users", method: http.MethodPost, path: "/Users", body: []userPhone{body},
		subject: "user " + strconv.Itoa(u.ID), area: areaUserWrite,
	}, nil)
}

// AddContactNote implements [psa.ContactNoter] with a CRM note: POST
// /api/CRMNote on the user's client, naming the user (user_id) and their
// site. CRM notes are for agents only: Halo shows them to no end user.
// The user is read first (GET /api/Users/{id}), for the client a CRM note
// belongs to and so that a missing user is core.ErrNotFound.
func (c *Client) AddContactNote(ctx context.Context, contactRef, text string) error {
	if strings.TrimSpace(text) == "" {
		return core.Errorf(core.KindInvalid, "halo: a note needs text")
	}
	u, err := c.getUser(ctx, contactRef)
	if err != nil {
		return err
	}
	what := "add a CRM note on user " + strconv.Itoa(u.ID)
	if u.ClientID < 1 {
		return newError(what, core.KindInvalid, nil, "Halo user %d belongs to no client, which a CRM note needs", u.ID)
	}
	return c.post(ctx, call{
		what: what, op: "POST /api/CRMNote", method: http.MethodPost, path: "/CRMNote",
		body:    []crmNote{{ClientID: int(u.ClientID), SiteID: u.siteID(), UserID: u.ID, Note: text}},
		subject: "client " + strconv.Itoa(int(u.ClientID)), area: "adding CRM notes (permission edit:crm, or all)",
	}, nil)
}
