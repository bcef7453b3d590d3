package autotask

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The ticket Insight: Autotask's ticket detail page frames the insight's
// referenceUrl — our pod URL — in an iframe with
// sandbox="allow-forms allow-modals allow-popups allow-same-origin allow-scripts",
// appending isdarktheme, psaversion, resourceid, insightkey, vendorid,
// vendorsuppliedid, entityid (the ticket) and signature (reference,
// "Insights"). Those parameters are context, never identity: the
// technician signs in with Countersign's own pop-out sign-in, and the
// signature, whose algorithm Autotask does not document, goes through a
// [SignatureVerifier] that answers Unverified by default.

// InsightParams are the query parameters Autotask appends to an Insight's
// URL.
type InsightParams struct {
	EntityID   string // the ticket's id
	ResourceID string // the viewing resource's id: a hint to show, never an identity
	DarkTheme  bool   // isdarktheme=True
	PSAVersion string
}

var digitsRE = regexp.MustCompile(`^[0-9]{1,19}$`)

// ParseInsight reads an Insight URL's query. entityid must be a ticket id;
// resourceid, when present, an id; anything else Autotask adds is ignored.
func ParseInsight(q url.Values) (InsightParams, error) {
	p := InsightParams{EntityID: strings.TrimSpace(q.Get("entityid")), ResourceID: strings.TrimSpace(q.Get("resourceid")),
		PSAVersion: q.Get("psaversion"), DarkTheme: strings.EqualFold(q.Get("isdarktheme"), "true")}
	if !digitsRE.MatchString(p.EntityID) || p.EntityID == strings.Repeat("0", len(p.EntityID)) {
		return InsightParams{}, core.Errorf(core.KindInvalid, "this Insight URL names no ticket (entityid): add the Insight to a ticket category, or open the LiveLink from a ticket")
	}
	if p.ResourceID != "" && !digitsRE.MatchString(p.ResourceID) {
		p.ResourceID = ""
	}
	return p, nil
}

// FrameOrigins implements [psa.Embedder]: the tenant's Autotask UI origin
// (its webUrl, "https://ww5.autotask.net"), the only page that may frame
// the Insight. It is known once the zone is (stored at setup); before
// that, it is derived from the zone's API host (webservices5 → ww5), and
// with neither the list is empty and the Insight refuses to load.
func (c *Client) FrameOrigins() []string {
	c.st.mu.Lock()
	z := c.st.zone
	c.st.mu.Unlock()
	if z.web == "" {
		z.web = c.cfg.WebURL // stored at setup, before any zone is known
	}
	if z.web != "" {
		if o, err := webOrigin(z.web); err == nil {
			return []string{o}
		}
	}
	if z.base != nil {
		host := strings.ToLower(z.base.Hostname())
		if n, ok := strings.CutPrefix(host, "webservices"); ok {
			if num, _, ok := strings.Cut(n, "."); ok && digitsRE.MatchString(num) {
				return []string{"https://ww" + num + autotaskDomain}
			}
		}
	}
	return nil
}

// PodContext implements [psa.Embedder]: an Insight is on a ticket, named
// by entityid. resourceid is not read into the context: it is not proof
// of anything.
func (c *Client) PodContext(q url.Values) (psa.PodContext, error) {
	p, err := ParseInsight(q)
	if err != nil {
		return psa.PodContext{}, err
	}
	return psa.PodContext{Screen: psa.ScreenTicket, TicketRef: p.EntityID}, nil
}

// Verdict is what a [SignatureVerifier] makes of an Insight URL's
// signature.
type Verdict int

// Verdicts. Only Valid says anything, and even Valid binds the request to
// the tenant's insight, never to a person: the URL has no timestamp or
// nonce, so a captured one replays forever.
const (
	Unverified Verdict = iota // not checked, or not checkable: the default
	Valid                     // Autotask made this URL for this insight
	Invalid                   // the signature is wrong
)

// SignatureVerifier checks an Insight URL's signature parameter with the
// insight's secret. Autotask does not document the algorithm (20 bytes in
// base64 suggests HMAC-SHA1, over an unknown canonical string), so no
// implementation is confirmed yet.
type SignatureVerifier interface {
	Verify(params url.Values, secret []byte) (Verdict, error)
}

// Unchecked is the default [SignatureVerifier]: it answers Unverified for
// every URL. No code path grants identity or permissions on Unverified.
type Unchecked struct{}

// Verify implements [SignatureVerifier].
func (Unchecked) Verify(url.Values, []byte) (Verdict, error) { return Unverified, nil }

var _ SignatureVerifier = Unchecked{}
