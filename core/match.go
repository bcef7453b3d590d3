package core

import (
	"context"
	"sort"
	"strings"
	"unicode"
)

// MatchStatus is where a directory user stands against the client's
// contacts.
type MatchStatus string

// Match statuses, in the order the report lists them.
const (
	// MatchMatched: exactly one contact shares an e-mail address (or, with
	// no address in common with anyone, exactly one shares a phone number).
	MatchMatched MatchStatus = "matched"
	// MatchSuggested: no address or number in common, but a contact has
	// the same name. Never bound without a person accepting it.
	MatchSuggested MatchStatus = "suggested"
	// MatchConflicting: several contacts share the address (or, with no
	// address in common, the number), or the address points at one
	// contact and a number only one other contact has at that one.
	MatchConflicting MatchStatus = "conflicting"
	// MatchUnmatched: nothing in common with any contact.
	MatchUnmatched MatchStatus = "unmatched"
)

// MatchRule says what a match rests on.
type MatchRule string

// Match rules.
const (
	RuleEmail MatchRule = "email"
	RulePhone MatchRule = "phone"
	RuleName  MatchRule = "name"
)

// Match is one directory user's place in the match report.
type Match struct {
	User   DirectoryUser
	Status MatchStatus
	Rule   MatchRule // "" for unmatched
	// Candidates are the contacts the rule found (one when matched).
	Candidates []string
	// Decision is a person's accept or reject of the pair (User, the
	// contact in Decision.ContactID); zero when undecided.
	Decision MatchDecision
	// SelfServe is the user's self-serve switch, status and whether it is
	// active (filled in by Engine.DirectoryMatches).
	SelfServe SelfServeState
}

// ContactID returns the one candidate of a matched or single suggestion.
func (m Match) ContactID() string {
	if len(m.Candidates) == 1 {
		return m.Candidates[0]
	}
	return ""
}

// nameKey folds a person's name for comparison: letters and digits only,
// lower-case, words sorted (so "Smith, Alice" equals "Alice Smith"). One
// word is no name to suggest on: it gives "".
func nameKey(first, last string) string {
	var buf [8]string
	words := buf[:0]
	for _, p := range [2]string{first, last} {
		words = append(words, strings.FieldsFunc(p, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		})...)
	}
	if len(words) < 2 {
		return ""
	}
	for i, w := range words {
		words[i] = strings.ToLower(w)
	}
	if len(words) == 2 {
		if words[0] > words[1] {
			words[0], words[1] = words[1], words[0]
		}
		return words[0] + " " + words[1]
	}
	sort.Strings(words)
	return strings.Join(words, " ")
}

// keyIndex maps a key to the contacts that have it. Most keys belong to
// one contact, so that case is an int in the map and only shared keys
// allocate a list.
type keyIndex struct {
	one   map[string]int32 // ≥ 0: the contact's index; < 0: -1-i into many
	many  [][]int32
	byPos []string // contact ids by index
}

func newKeyIndex(n int, ids []string) *keyIndex {
	return &keyIndex{one: make(map[string]int32, n), byPos: ids}
}

func (x *keyIndex) add(k string, pos int32) {
	if k == "" {
		return
	}
	v, ok := x.one[k]
	switch {
	case !ok:
		x.one[k] = pos
	case v >= 0:
		if v != pos {
			x.many = append(x.many, []int32{v, pos})
			x.one[k] = int32(-len(x.many))
		}
	default:
		l := x.many[-v-1]
		if l[len(l)-1] != pos {
			x.many[-v-1] = append(l, pos)
		}
	}
}

// lookup appends the ids under k to out, without repeats.
func (x *keyIndex) lookup(out []string, k string) []string {
	if k == "" {
		return out
	}
	v, ok := x.one[k]
	if !ok {
		return out
	}
	if v >= 0 {
		return addID(out, x.byPos[v])
	}
	for _, p := range x.many[-v-1] {
		out = addID(out, x.byPos[p])
	}
	return out
}

func addID(out []string, id string) []string {
	for _, have := range out {
		if have == id {
			return out
		}
	}
	return append(out, id)
}

// contactIndex maps e-mail, phone and name keys to contact ids.
type contactIndex struct {
	email, phone, name *keyIndex
}

func indexContacts(contacts []Contact) contactIndex {
	ids := make([]string, len(contacts))
	for i, c := range contacts {
		ids[i] = c.ID
	}
	ix := contactIndex{email: newKeyIndex(len(contacts), ids), phone: newKeyIndex(len(contacts), ids), name: newKeyIndex(len(contacts), ids)}
	for i, c := range contacts {
		pos := int32(i)
		for _, d := range c.Destinations {
			switch d.Kind {
			case DestEmail:
				ix.email.add(strings.ToLower(d.Value), pos)
			case DestPhone:
				ix.phone.add(d.Value, pos)
			}
		}
		ix.name.add(nameKey(c.FirstName, c.LastName), pos)
	}
	return ix
}

// without returns ids other than id.
func without(ids []string, id string) []string {
	var out []string
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// MatchDirectory matches directory users to contacts: by e-mail (mail and
// proxy addresses), then by E.164 phone, then by name as a suggestion
// only. decisions (by GUID) are applied: an accepted pair stays matched
// to its contact whatever the data says now; a rejected pair is never
// proposed again. It is pure computation over maps, linear in the sizes.
func MatchDirectory(users []DirectoryUser, contacts []Contact, decisions []MatchDecision) []Match {
	ix := indexContacts(contacts)
	live := make(map[string]bool, len(contacts))
	for _, c := range contacts {
		live[c.ID] = true
	}
	accepted := map[string]MatchDecision{}
	rejected := map[string]map[string]MatchDecision{}
	for _, d := range decisions {
		switch d.State {
		case MatchAccepted:
			accepted[d.GUID] = d
		case MatchRejected:
			if rejected[d.GUID] == nil {
				rejected[d.GUID] = map[string]MatchDecision{}
			}
			rejected[d.GUID][d.ContactID] = d
		}
	}
	out := make([]Match, len(users))
	for i, u := range users {
		m := Match{User: u}
		if d, ok := accepted[u.GUID]; ok && live[d.ContactID] {
			m.Status, m.Rule, m.Candidates, m.Decision = MatchMatched, "", []string{d.ContactID}, d
			out[i] = m
			continue
		}
		drop := func(ids []string) []string {
			rj := rejected[u.GUID]
			if len(rj) == 0 {
				return ids
			}
			kept := ids[:0:0]
			for _, id := range ids {
				if _, no := rj[id]; !no {
					kept = append(kept, id)
				}
			}
			return kept
		}
		var byEmail, byPhone []string
		byEmail = ix.email.lookup(byEmail, u.Mail)
		for _, p := range u.ProxyAddresses {
			byEmail = ix.email.lookup(byEmail, p)
		}
		byEmail = drop(byEmail)
		byPhone = drop(ix.phone.lookup(ix.phone.lookup(byPhone, u.MobileE164), u.PhoneE164))
		switch {
		case len(byEmail) > 1:
			m.Status, m.Rule, m.Candidates = MatchConflicting, RuleEmail, byEmail
		case len(byEmail) == 1:
			m.Status, m.Rule, m.Candidates = MatchMatched, RuleEmail, byEmail
			// A number only one contact has, and that is not this one: the
			// two rules disagree. (A number several contacts share, such
			// as a switchboard, identifies no one.)
			if len(byPhone) == 1 && byPhone[0] != byEmail[0] {
				m.Status, m.Candidates = MatchConflicting, []string{byEmail[0], byPhone[0]}
			}
		case len(byPhone) > 1:
			m.Status, m.Rule, m.Candidates = MatchConflicting, RulePhone, byPhone
		case len(byPhone) == 1:
			m.Status, m.Rule, m.Candidates = MatchMatched, RulePhone, byPhone
		default:
			if byName := drop(ix.name.lookup(nil, nameKey(u.GivenName, u.Surname))); len(byName) > 0 {
				m.Status, m.Rule, m.Candidates = MatchSuggested, RuleName, byName
			} else {
				m.Status = MatchUnmatched
			}
		}
		if len(m.Candidates) == 1 {
			if d, ok := rejected[u.GUID][m.Candidates[0]]; ok {
				m.Decision = d
			}
		}
		out[i] = m
	}
	return out
}

// MatchCounts counts a report's rows by status.
type MatchCounts struct {
	Matched, Suggested, Conflicting, Unmatched, Accepted int
	// SelfServeOn counts users whose own switch is on; SelfServeActive
	// those of them who can really use it.
	SelfServeOn, SelfServeActive int
}

// MatchReport is a client's directory users matched against its contacts.
type MatchReport struct {
	Matches  []Match
	Contacts map[string]Contact // the candidates, by id
	Counts   MatchCounts
	// SelfServe are the tenant's self-serve switches.
	SelfServe SelfServeSettings
}

// maxMatchContacts bounds the contacts read for one report.
const maxMatchContacts = 20_000

// DirectoryMatches builds the match report of a client.
func (e *Engine) DirectoryMatches(ctx context.Context, tenantID, clientID string) (MatchReport, error) {
	var rep MatchReport
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		if _, err := tx.Client(ctx, tenantID, clientID); err != nil {
			return err
		}
		users, err := tx.DirectoryUsers(ctx, tenantID, clientID)
		if err != nil {
			return err
		}
		contacts, err := tx.SearchContacts(ctx, tenantID, ContactQuery{ClientID: clientID, Limit: maxMatchContacts})
		if err != nil {
			return err
		}
		decisions, err := tx.MatchDecisions(ctx, tenantID, clientID)
		if err != nil {
			return err
		}
		if rep.SelfServe, err = tx.SelfServeSettings(ctx, tenantID); err != nil {
			return err
		}
		owns, err := tx.SelfServeUsers(ctx, tenantID, clientID)
		if err != nil {
			return err
		}
		lockedGUIDs, err := tx.SelfServeLockedOut(ctx, tenantID, clientID, selfServeFailureCap)
		if err != nil {
			return err
		}
		lockedOut := make(map[string]bool, len(lockedGUIDs))
		for _, g := range lockedGUIDs {
			lockedOut[g] = true
		}
		own := make(map[string]SelfServeUser, len(owns))
		for _, o := range owns {
			own[o.GUID] = o
		}
		rep.Matches = MatchDirectory(users, contacts, decisions)
		byID := make(map[string]Contact, len(contacts))
		for _, c := range contacts {
			byID[c.ID] = c
		}
		rep.Contacts = map[string]Contact{}
		for i := range rep.Matches {
			m := &rep.Matches[i]
			for _, id := range m.Candidates {
				rep.Contacts[id] = byID[id]
			}
			var bound *Contact
			if m.Decision.State == MatchAccepted {
				if c, ok := byID[m.Decision.ContactID]; ok {
					bound = &c
				}
			}
			m.SelfServe = selfServeState(rep.SelfServe, own[m.User.GUID], m.User, bound, lockedOut[m.User.GUID])
			if m.SelfServe.Enabled {
				rep.Counts.SelfServeOn++
			}
			if m.SelfServe.Active {
				rep.Counts.SelfServeActive++
			}
			switch m.Status {
			case MatchMatched:
				rep.Counts.Matched++
				if m.Decision.State == MatchAccepted {
					rep.Counts.Accepted++
				}
			case MatchSuggested:
				rep.Counts.Suggested++
			case MatchConflicting:
				rep.Counts.Conflicting++
			case MatchUnmatched:
				rep.Counts.Unmatched++
			}
		}
		return nil
	})
	return rep, err
}

// MatchChoice is one row of a person's accept or reject.
type MatchChoice struct {
	GUID      string
	ContactID string
	Accept    bool
}

// DecideMatches records accepts and rejects of directory users as contacts
// of the same client. An accept binds the user's SID to the contact
// (BindHarvester, confirmed, replacing an earlier binding of that SID);
// a reject keeps the pair out of later reports and takes back the binding
// an earlier accept of the same pair made. All rows or none.
func (e *Engine) DecideMatches(ctx context.Context, tenantID, actor, clientID string, choices []MatchChoice) error {
	if len(choices) == 0 {
		return Errorf(KindInvalid, "choose at least one row")
	}
	if len(choices) > maxDirectoryUsers {
		return Errorf(KindInvalid, "at most %d rows at once", maxDirectoryUsers)
	}
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		users, err := tx.DirectoryUsers(ctx, tenantID, clientID)
		if err != nil {
			return err
		}
		byGUID := make(map[string]DirectoryUser, len(users))
		for _, u := range users {
			byGUID[u.GUID] = u
		}
		contacts := map[string]Contact{}
		now := e.Now()
		for _, ch := range choices {
			u, ok := byGUID[ch.GUID]
			if !ok {
				return Errorf(KindNotFound, "directory user %s is not on record for this client", ch.GUID)
			}
			c, ok := contacts[ch.ContactID]
			if !ok {
				if c, err = tx.Contact(ctx, tenantID, ch.ContactID); err != nil {
					return err
				}
				contacts[c.ID] = c
			}
			if c.ClientID != clientID {
				return Errorf(KindInvalid, "%s is a contact of another client", c.Name())
			}
			d := MatchDecision{TenantID: tenantID, ClientID: clientID, GUID: u.GUID, ContactID: c.ID, State: MatchRejected, By: actor, At: now}
			action := AuditDirectoryMatchRejected
			if ch.Accept {
				d.State, action = MatchAccepted, AuditDirectoryMatchAccepted
				if _, err := e.bind(ctx, tx, Device{TenantID: tenantID, ClientID: clientID, ID: u.DeviceID}, u.SID, c, BindHarvester, actor); err != nil {
					return err
				}
			} else if err := e.unbindRejected(ctx, tx, tenantID, actor, clientID, u.SID, c.ID); err != nil {
				return err
			}
			if err := tx.PutMatchDecision(ctx, &d); err != nil {
				return err
			}
			if err := e.audit(ctx, tx, tenantID, actor, action, u.SID, map[string]string{
				"guid": u.GUID, "contact": c.ID, "client": clientID, "account": u.SAMAccountName,
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// unbindRejected removes the binding of sid to contactID when an accepted
// match made it (BindHarvester): rejecting the pair takes the acceptance
// back. A binding made another way (the user registering, a first ticket,
// a technician assigning) is the user's or a technician's word and stays.
func (e *Engine) unbindRejected(ctx context.Context, tx Tx, tenantID, actor, clientID, sid, contactID string) error {
	b, err := tx.Binding(ctx, tenantID, clientID, sid)
	if isNotFound(err) || (err == nil && (b.How != BindHarvester || b.ContactID != contactID)) {
		return nil
	}
	if err != nil {
		return err
	}
	removed, err := tx.RemoveBinding(ctx, tenantID, clientID, sid, contactID)
	if err != nil || !removed {
		return err
	}
	return e.audit(ctx, tx, tenantID, actor, AuditBindingRemoved, sid, map[string]string{
		"sid": sid, "contact": contactID, "client": clientID, "how": string(b.How),
	})
}
