package connectwise

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The Hosted API pod (reference §8 and §9). ConnectWise frames the pod on
// its Contact and Service Ticket screens with the URL registered in
// "Manage Hosted API", ?id=[cw_id]&screen=[cw_screen] filled in; the pod's
// script (assets/pod.js) asks ConnectWise for the
// signed-in member's authentication over postMessage and hands it to the
// server, which believes it only once ConnectWise has said whose it is.

// FrameOrigins implements [psa.Embedder]: only the site technicians sign
// in to, and the other ConnectWise addresses configured on the integration
// (Config.Origins), may frame the pod and talk to it (reference §8.3).
func (c *Client) FrameOrigins() []string {
	var out []string
	for _, h := range c.cfg.uiHosts() {
		out = append(out, "https://"+h)
	}
	return out
}

// PodContext implements [psa.Embedder]. ConnectWise fills the registered
// URL's [cw_id] with the record id and [cw_screen] with the screen; the
// official example shows a lower-case name ("company"), the prose a
// "Screen ID" (reference §8.2), so names are read liberally ("ticket",
// "Service Tickets", "service_ticket", "contacts", …) and a number is
// refused with advice to write the screen into the URL instead. ?ticket=ID
// and ?contact=ID (a deep link) work too. The values are hints for what to
// show, never authority: the server still reads the record itself.
func (c *Client) PodContext(q url.Values) (psa.PodContext, error) {
	rawID, rawScreen := strings.TrimSpace(q.Get("id")), strings.TrimSpace(q.Get("screen"))
	if rawID == "" && rawScreen == "" {
		switch {
		case q.Get("ticket") != "":
			rawID, rawScreen = strings.TrimSpace(q.Get("ticket")), "ticket"
		case q.Get("contact") != "":
			rawID, rawScreen = strings.TrimSpace(q.Get("contact")), "contact"
		}
	}
	if strings.Contains(rawID, "[") || strings.Contains(rawScreen, "[") {
		return psa.PodContext{}, core.Errorf(core.KindInvalid,
			"ConnectWise did not fill in the pod URL's [cw_id] or [cw_screen]: open the pod from a ConnectWise contact or service ticket")
	}
	if rawID == "" {
		return psa.PodContext{}, core.Errorf(core.KindInvalid,
			"the pod URL names no ConnectWise record: register it in Manage Hosted API ending in ?id=[cw_id]&screen=[cw_screen]")
	}
	id, ok := recordID(rawID)
	if !ok {
		return psa.PodContext{}, core.Errorf(core.KindInvalid, "the pod URL's id %s is not a ConnectWise record id", quoteShort(rawID))
	}
	screen, err := podScreen(rawScreen)
	if err != nil {
		return psa.PodContext{}, err
	}
	if screen == psa.ScreenTicket {
		return psa.PodContext{Screen: screen, TicketRef: id}, nil
	}
	return psa.PodContext{Screen: screen, ContactRef: id}, nil
}

// recordID returns s as a canonical ConnectWise record id (a positive
// int32, written in decimal digits only).
func recordID(s string) (string, bool) {
	if len(s) == 0 || len(s) > 10 {
		return "", false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// podScreen maps what ConnectWise put in [cw_screen] to a pod screen.
func podScreen(raw string) (psa.Screen, error) {
	var b strings.Builder
	digits := raw != ""
	for _, r := range strings.ToLower(raw) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
			digits = false
		case r >= '0' && r <= '9':
		default:
			digits = false
		}
	}
	switch b.String() {
	case "ticket", "tickets", "serviceticket", "servicetickets", "service", "srservice":
		return psa.ScreenTicket, nil
	case "contact", "contacts", "companycontact", "companycontacts":
		return psa.ScreenContact, nil
	}
	switch {
	case raw == "":
		return "", core.Errorf(core.KindInvalid,
			"the pod URL does not say which ConnectWise screen shows it: register it ending in ?id=[cw_id]&screen=[cw_screen]")
	case digits:
		return "", core.Errorf(core.KindInvalid,
			"ConnectWise sent screen %s, a number Countersign cannot map: register the pod URL with screen=ticket (Service Tickets) or screen=contact (Contacts) instead of [cw_screen]", quoteShort(raw))
	}
	return "", core.Errorf(core.KindInvalid,
		"the Countersign pod works on ConnectWise's Contacts and Service Tickets screens, not on screen %s", quoteShort(raw))
}

// quoteShort quotes s for a message, cut to a length that fits one.
func quoteShort(s string) string {
	return strconv.Quote(core.ClipBytes(s, 40, core.Ellipsis))
}

// memberProof is the data of ConnectWise's getMemberAuthentication reply
// as the pod forwards it (reference §8.5; note the casing). memberEmail and
// the occasional codeBase and SSO tokens are ignored: the e-mail is never
// identity, and nothing else is needed.
type memberProof struct {
	Site          string `json:"site"`
	CompanyID     string `json:"companyid"`
	MemberID      string `json:"memberid"`
	MemberHash    string `json:"memberHash"`
	MemberContext string `json:"memberContext"`
}

// Limits of member proofs (reference §9 steps 4 and 8): how long
// ConnectWise's answer is trusted, how long it may take, and how many
// refusals a member id, or the whole tenant, gets per window.
const (
	proofOKTTL      = 5 * time.Minute
	proofRefusedTTL = time.Minute
	proofTimeout    = 10 * time.Second
	maxCachedProofs = 4096
	proofFailWindow = time.Minute
	maxMemberFails  = 10
	maxTenantFails  = 100
	maxSiteLen      = 255
)

// ProveMember implements [psa.MemberProver] for the member authentication
// a pod got from ConnectWise (reference §9). It
//
//   - checks the strings before any reaches a header (step 2);
//   - compares the reply's companyid and site with the integration's, so
//     that a pod of another ConnectWise company is refused by name (step 3;
//     a consistency check: the tenant facts sent to ConnectWise come from
//     Config only);
//   - asks ConnectWise whose the credentials are, as that member
//     ([Client.VerifyMember]: GET /system/myMembers/info, identifier equal
//     to memberid, active, not an API member; steps 4–5).
//
// The Member's Ref is ConnectWise's member id (an integer), the identity to
// key technicians by. ConnectWise's answer is cached per client, keyed by
// SHA-256 of company, member id and hash — the hash itself is never kept or
// logged: five minutes when it accepted, one minute when it refused (kind
// core.ErrUnauthorized or core.ErrForbidden). A failure to reach
// ConnectWise fails closed and is not cached. Refusals are rate-limited per
// member id and per tenant.
func (c *Client) ProveMember(ctx context.Context, raw json.RawMessage) (psa.Member, error) {
	const what = "prove member"
	p, err := decodeProof(raw)
	if err != nil {
		return psa.Member{}, err
	}
	a := MemberAuth{MemberID: strings.TrimSpace(p.MemberID), Hash: p.MemberHash, Context: p.MemberContext}
	if err := a.Validate(); err != nil {
		return psa.Member{}, err
	}
	if id := strings.TrimSpace(p.CompanyID); id != "" && !strings.EqualFold(id, c.cfg.CompanyID) {
		c.log.InfoContext(ctx, "connectwise pod of another company", slog.String("member_id", a.MemberID), slog.String("company", quoteShort(id)))
		return psa.Member{}, newError(what, core.KindUnauthorized, nil,
			"this pod is signed in to ConnectWise company %s, but the integration is for company %q: register the pod URL of the right Countersign integration", quoteShort(id), c.cfg.CompanyID)
	}
	if p.Site != "" {
		if host := siteHost(p.Site); !slices.Contains(c.cfg.uiHosts(), host) {
			c.log.InfoContext(ctx, "connectwise pod on another site", slog.String("member_id", a.MemberID), slog.String("site", quoteShort(p.Site)))
			return psa.Member{}, newError(what, core.KindUnauthorized, nil,
				"this pod is signed in to ConnectWise at %s, but the integration is for %s: check the integration's site", quoteShort(p.Site), c.cfg.Site)
		}
	}

	key := proofKey(c.cfg.CompanyID, a)
	pc := &c.st.proofs
	now := c.now()
	if m, err, ok := pc.get(key, now); ok {
		return m, err
	}
	if err := pc.allow(a.MemberID, now); err != nil {
		return psa.Member{}, err
	}
	vctx, cancel := context.WithTimeout(ctx, proofTimeout)
	defer cancel()
	m, err := c.VerifyMember(vctx, a)
	now = c.now()
	if err == nil {
		pc.put(key, m, nil, now.Add(proofOKTTL), now)
		c.log.InfoContext(ctx, "connectwise member proved", slog.String("member_id", m.Identifier), slog.String("member_ref", m.Ref))
		return m, nil
	}
	switch core.ErrorKind(err) {
	case core.KindUnauthorized, core.KindForbidden:
		// ConnectWise's own answer: worth remembering for a minute, so
		// that a pod retrying a dead hash does not cost a call each time.
		pc.put(key, psa.Member{}, err, now.Add(proofRefusedTTL), now)
		pc.failed(a.MemberID, now)
		c.log.InfoContext(ctx, "connectwise member proof refused", slog.String("member_id", a.MemberID), slog.Any("err", err))
		return psa.Member{}, err
	}
	// ConnectWise unreachable, throttling or broken: fail closed, and ask
	// again next time.
	return psa.Member{}, err
}

// AsMember implements [psa.MemberReader]: the proof is confirmed as
// [Client.ProveMember] confirms it (cached, rate-limited, fail closed), and
// the client returned calls ConnectWise with the member's own
// authentication ([Client.WithMember]), under the member's security role.
func (c *Client) AsMember(ctx context.Context, raw json.RawMessage) (psa.Client, psa.Member, error) {
	m, err := c.ProveMember(ctx, raw)
	if err != nil {
		return nil, psa.Member{}, err
	}
	p, err := decodeProof(raw)
	if err != nil {
		return nil, psa.Member{}, err
	}
	mc, err := c.WithMember(MemberAuth{MemberID: strings.TrimSpace(p.MemberID), Hash: p.MemberHash, Context: p.MemberContext})
	if err != nil {
		return nil, psa.Member{}, err
	}
	return mc, m, nil
}

// decodeProof reads the getMemberAuthentication data: an object, or the
// same object sent as a JSON string.
func decodeProof(raw json.RawMessage) (memberProof, error) {
	bad := core.Errorf(core.KindInvalid, "the ConnectWise sign-in from the pod is not in the form ConnectWise sends")
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return memberProof{}, bad
		}
		raw = []byte(s)
	}
	var p memberProof
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &p) != nil {
		return memberProof{}, bad
	}
	return p, nil
}

// siteHost returns the host of the getMemberAuthentication site
// ("https://na.myconnectwise.net/"), lower case, with its port.
func siteHost(site string) string {
	site = strings.TrimSpace(site)
	if len(site) > maxSiteLen {
		return ""
	}
	if !strings.Contains(site, "://") {
		return normalizeHost(site)
	}
	u, err := url.Parse(site)
	if err != nil || u.Scheme != "https" {
		return ""
	}
	return strings.ToLower(u.Host)
}

// proofKey is the cache key of a proof: no one who reads the cache learns
// the hash from it.
func proofKey(companyID string, a MemberAuth) [sha256.Size]byte {
	return sha256.Sum256([]byte(strings.ToLower(companyID) + "\x00" + strings.ToLower(a.MemberID) + "\x00" + a.Hash))
}

// proofCache remembers ConnectWise's answers to member proofs, and counts
// refusals. Its zero value is ready to use; it is safe for concurrent use.
type proofCache struct {
	mu      sync.Mutex
	answers map[[sha256.Size]byte]proofAnswer
	fails   map[string]failWindow // lower-cased member id ("" for the tenant) → refusals
}

type proofAnswer struct {
	member  psa.Member
	err     error // nil when ConnectWise accepted the proof
	expires time.Time
}

type failWindow struct {
	start time.Time
	n     int
}

func (pc *proofCache) get(key [sha256.Size]byte, now time.Time) (psa.Member, error, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	a, ok := pc.answers[key]
	if !ok || !now.Before(a.expires) {
		return psa.Member{}, nil, false
	}
	return a.member, a.err, true
}

func (pc *proofCache) put(key [sha256.Size]byte, m psa.Member, err error, expires, now time.Time) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.answers == nil {
		pc.answers = map[[sha256.Size]byte]proofAnswer{}
	}
	if len(pc.answers) >= maxCachedProofs {
		for k, a := range pc.answers {
			if !now.Before(a.expires) {
				delete(pc.answers, k)
			}
		}
		for k := range pc.answers { // still full: drop any one
			if len(pc.answers) < maxCachedProofs {
				break
			}
			delete(pc.answers, k)
		}
	}
	pc.answers[key] = proofAnswer{member: m, err: err, expires: expires}
}

// allow refuses a proof of a member id, or of any member, that ConnectWise
// has refused too often in the current window: guessing hashes costs
// ConnectWise calls and our API budget.
func (pc *proofCache) allow(memberID string, now time.Time) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if w := pc.fails[strings.ToLower(memberID)]; now.Sub(w.start) < proofFailWindow && w.n >= maxMemberFails {
		return core.Errorf(core.KindRateLimited, "too many refused ConnectWise sign-ins for member %q: try again in a minute", memberID)
	}
	if w := pc.fails[""]; now.Sub(w.start) < proofFailWindow && w.n >= maxTenantFails {
		return core.Errorf(core.KindRateLimited, "too many refused ConnectWise sign-ins: try again in a minute")
	}
	return nil
}

func (pc *proofCache) failed(memberID string, now time.Time) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.fails == nil {
		pc.fails = map[string]failWindow{}
	}
	for k, w := range pc.fails {
		if now.Sub(w.start) >= proofFailWindow {
			delete(pc.fails, k)
		}
	}
	for _, k := range []string{strings.ToLower(memberID), ""} {
		w := pc.fails[k]
		if w.n == 0 {
			w.start = now
		}
		w.n++
		pc.fails[k] = w
	}
}
