package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The end-user link page (security.md §5): GET and HEAD show what is being
// confirmed and change nothing; only a POST from the page's own form, which
// carries a nonce minted by the GET, validates or declines.

func (s *Server) registerLinkRoutes(r *mux.Router) {
	r.HandleFunc("/l/{tenant}/{token}", s.handleLinkPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/l/{tenant}/{token}", s.handleLinkAnswer).Methods(http.MethodPost)
}

// linkNonceTTL bounds how long a rendered page's form stays usable.
const linkNonceTTL = 15 * time.Minute

// The outcomes link.html draws. Each has its own heading and text there.
const (
	linkForm      = "form"      // the question, with Validate and "This wasn't me"
	linkConfirmed = "confirmed" // this POST (or a repeat of it) validated
	linkDeclined  = "declined"  // this POST said "This wasn't me"
	linkUsed      = "used"      // answered earlier; nothing changed now
	linkCancelled = "cancelled" // the help desk withdrew the request
	linkLocked    = "locked"    // too many wrong codes
	linkClosed    = "closed"    // closed another way
	linkInvalid   = "invalid"   // unknown or expired: one page for both (security.md §8)
	linkRetry     = "retry"     // the form itself was refused (stale nonce, another origin)
	linkError     = "error"     // our fault
)

// linkHeadings are the page headings (and titles), one per outcome; the text
// under each heading is in link.html.
var linkHeadings = map[string]string{
	linkForm:      "Confirm it's you",
	linkConfirmed: "You're confirmed",
	linkDeclined:  "Thanks for telling us",
	linkUsed:      "This link has already been used",
	linkCancelled: "This request was cancelled",
	linkLocked:    "This link no longer works",
	linkClosed:    "This request is closed",
	linkInvalid:   "This link is not valid or has expired",
	linkRetry:     "Please open the link again",
	linkError:     "Something went wrong",
}

// linkPageData is what link.html sees. On the invalid, retry and error pages
// everything but Outcome and Message is zero: they name no tenant, so an
// unknown link and an expired one render byte for byte the same.
type linkPageData struct {
	Tenant        core.Tenant
	Name          string       // the MSP's name as end users see it
	Logo          template.URL // the tenant's logo as a checked data: URI, or ""
	Page          core.LinkPage
	Outcome       string
	Heading       string // set by renderLink from linkHeadings
	Message       string // retry and error pages
	Nonce         string
	Presence      string // the number to type back (presenceCode of Nonce)
	PresenceError string
	CodeError     string
	Requested     string // e.g. "14:02 (2 min ago)", in the tenant's time zone
	Expires       string // e.g. "in 8 minutes"
}

// mintNonce ties a form to the token, the time it was rendered and this
// one page view (16 random bytes), without storing anything: GET stays free
// of state changes. LinkConfirm spends the nonce, so each rendered page
// answers at most once (issue 9 item 6: one nonce carried 50 POSTs).
func (s *Server) mintNonce(token string, at time.Time) string {
	b := make([]byte, 8+16, 8+16+sha256.Size)
	binary.BigEndian.PutUint64(b[:8], uint64(at.Unix()))
	_, _ = rand.Read(b[8:])
	return base64.RawURLEncoding.EncodeToString(append(b, s.nonceMAC(token, b)...))
}

func (s *Server) nonceMAC(token string, tsAndView []byte) []byte {
	m := hmac.New(sha256.New, deriveSub(s.cfg.SessionKey, "link-nonce"))
	m.Write(core.LinkTokenHash(token))
	m.Write(tsAndView)
	return m.Sum(nil)
}

// nonceValid reports whether nonce was minted for token within the TTL.
// Whether it was spent already is for LinkConfirm to say.
func (s *Server) nonceValid(token, nonce string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 8+16+sha256.Size {
		return false
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if now.Sub(at) > linkNonceTTL || at.After(now.Add(time.Minute)) {
		return false
	}
	return hmac.Equal(b[24:], s.nonceMAC(token, b[:24]))
}

// presenceCode is the number a page view shows and the person types back
// (security.md §5 rule 3, variant; issue 9 items 5 and 6). It is derived
// from the view's nonce, so it changes with every render and needs no
// storage. A scanner that replays the form with the page's fields sends it
// empty; one that runs the page's script finds nothing to run.
//
// Chosen over a token set by the page's script: Safe Links and similar
// scanners detonate pages in a real browser and were seen submitting
// script-driven forms, so a script-set token proves little about a person,
// while typing a number shown as text is a step no known scanner takes, and
// the page keeps working with script off and with screen readers.
func (s *Server) presenceCode(nonce string) string {
	m := hmac.New(sha256.New, deriveSub(s.cfg.SessionKey, "link-presence"))
	m.Write([]byte(nonce))
	return fmt.Sprintf("%04d", binary.BigEndian.Uint32(m.Sum(nil))%10000)
}

// presentFor reports whether the form's presence field matches its nonce.
func (s *Server) presentFor(nonce, typed string) bool {
	typed = strings.TrimSpace(typed)
	return len(typed) == 4 && hmac.Equal([]byte(typed), []byte(s.presenceCode(nonce)))
}

// linkHeaders are set on every link response (security.md §2): the token
// must not leak through Referer or caches.
func linkHeaders(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Robots-Tag", "noindex")
}

// linkData fills what every page of a known, unexpired link shows.
func (s *Server) linkData(page core.LinkPage) linkPageData {
	now := s.engine.Now()
	d := linkPageData{Tenant: page.Tenant, Name: page.Tenant.DisplayName(), Page: page}
	if logoURI.MatchString(page.Tenant.Branding.LogoDataURI) {
		// html/template refuses data: URLs in src unless told they are safe;
		// only base64 raster images get here (no SVG, which can hold script).
		d.Logo = template.URL(page.Tenant.Branding.LogoDataURI)
	}
	if !page.RequestedAt.IsZero() {
		d.Requested = core.FormatTime(page.RequestedAt, now, page.Tenant.Location())
		if a := core.Ago(page.RequestedAt, now); a != "" {
			d.Requested += " (" + a + ")"
		}
	}
	if left := page.ExpiresAt.Sub(now); left > 0 {
		d.Expires = "in " + minutes(left+time.Minute-time.Nanosecond)
	}
	return d
}

// sentence turns a core message ("that code does not match; 4 attempts
// left") into one a person reads: capitalised, with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// logoURI matches the logos the link page shows: base64 raster images.
var logoURI = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$`)

// ago says how long ago something happened, in words an end user reads at a
// glance; the page has no script, so it cannot use the reader's time zone.
func minutes(d time.Duration) string {
	if m := int(d / time.Minute); m != 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "1 minute"
}

// outcomeOf is the page for a link whose request was already settled.
func outcomeOf(st core.LinkState) string {
	switch st {
	case core.LinkOpen:
		return linkForm
	case core.LinkConfirmed, core.LinkDeclined:
		return linkUsed
	case core.LinkCancelled:
		return linkCancelled
	case core.LinkLocked:
		return linkLocked
	}
	return linkClosed
}

// renderLink renders link.html with status.
func (s *Server) renderLink(w http.ResponseWriter, r *http.Request, status int, data linkPageData) {
	data.Heading = linkHeadings[data.Outcome]
	s.renderHTML(w, r, status, "link.html", data)
}

// renderLinkInvalid renders the one page for unknown and expired links. It
// takes nothing from the request, so the two cannot differ.
func (s *Server) renderLinkInvalid(w http.ResponseWriter, r *http.Request) {
	s.renderLink(w, r, http.StatusNotFound, linkPageData{Outcome: linkInvalid})
}

// renderLinkRetry renders a refused form: nothing changed, open the link again.
func (s *Server) renderLinkRetry(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.renderLink(w, r, status, linkPageData{Outcome: linkRetry, Message: msg})
}

// renderLinkError logs err and renders a page that blames us, not the user.
func (s *Server) renderLinkError(w http.ResponseWriter, r *http.Request, err error) {
	s.classify(r, err)
	s.renderLink(w, r, http.StatusServiceUnavailable, linkPageData{Outcome: linkError,
		Message: "Something went wrong on our side. Please try again in a minute."})
}

// handleLinkPage handles "GET /l/{tenant}/{token}" and HEAD: it renders the
// question (or how the request ended) and changes nothing.
func (s *Server) handleLinkPage(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	token := pathVar(r, "token")
	page, err := s.engine.LinkView(r.Context(), pathVar(r, "tenant"), token)
	switch {
	case core.ErrorKind(err) == core.KindNotFound:
		s.renderLinkInvalid(w, r)
		return
	case err != nil:
		s.renderLinkError(w, r, err)
		return
	}
	data := s.linkData(page)
	data.Outcome = outcomeOf(page.State)
	if data.Outcome == linkForm {
		s.newForm(&data, token, s.engine.Now())
	}
	s.renderLink(w, r, http.StatusOK, data)
}

// handleLinkAnswer handles "POST /l/{tenant}/{token}": Validate or "This
// wasn't me" from the page's form.
func (s *Server) handleLinkAnswer(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	now := s.engine.Now()
	action, ok := s.readLinkAnswer(w, r, now)
	if !ok {
		return
	}
	slug, token, nonce := pathVar(r, "tenant"), pathVar(r, "token"), r.PostForm.Get("nonce")
	// "This wasn't me" fails the verification and alerts the MSP, and an
	// SMS link has no technician code: both need the number shown on the
	// page typed back, a step a scanner replaying the form does not take.
	// Missing or wrong, nothing changes, no attempt is used and the nonce
	// stays unspent.
	// The page decides (not the form, which a scanner writes): a link
	// whose verification has no technician code needs the number for
	// Validate too.
	before, ok := s.linkViewOrRender(w, r, slug, token)
	if !ok {
		return
	}
	if (action == "decline" || !before.NeedsCode) && !s.presentFor(nonce, r.PostForm.Get("presence")) {
		s.renderPresenceAgain(w, r, before, token, now)
		return
	}
	v, err := s.engine.LinkConfirm(r.Context(), slug, token, core.LinkAnswer{
		Decline: action == "decline", Code: r.PostForm.Get("code"), IP: s.clientAddr(r).String(), UserAgent: r.UserAgent(),
		Nonce: nonce,
	})
	switch kind := core.ErrorKind(err); {
	case kind == core.KindNotFound:
		s.renderLinkInvalid(w, r)
		return
	case err != nil && kind == core.KindInternal:
		s.renderLinkError(w, r, err)
		return
	}
	page, ok := s.linkViewOrRender(w, r, slug, token)
	if !ok {
		return
	}
	s.renderLinkAnswered(w, r, page, v, err, token, now)
}

// readLinkAnswer reads the link page's form and returns its action
// (confirm or decline). A form from another origin, unreadable, without
// a fresh page render's nonce or without an action gets a page saying
// what to do, and ok false.
func (s *Server) readLinkAnswer(w http.ResponseWriter, r *http.Request, now time.Time) (action string, ok bool) {
	if o := r.Header.Get("Origin"); o != "" && o != s.origin && o != "null" {
		s.renderLinkRetry(w, r, http.StatusForbidden, "This form must be sent from our own page. Open the link from your message again.")
		return "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		s.renderLinkRetry(w, r, http.StatusBadRequest, "The form could not be read. Open the link from your message again.")
		return "", false
	}
	if !s.nonceValid(pathVar(r, "token"), r.PostForm.Get("nonce"), now) {
		// A POST without a fresh page render: a scanner replaying the form,
		// or a page left open too long. Nothing changes.
		s.renderLinkRetry(w, r, http.StatusBadRequest, "This page was open too long. Open the link from your message again.")
		return "", false
	}
	action = r.PostForm.Get("action")
	if action != "confirm" && action != "decline" {
		s.renderLinkRetry(w, r, http.StatusBadRequest, "Choose Validate or This wasn't me.")
		return "", false
	}
	return action, true
}

// linkViewOrRender returns the link's page, or renders why there is none
// (an unknown link, an error) and returns ok false.
func (s *Server) linkViewOrRender(w http.ResponseWriter, r *http.Request, slug, token string) (core.LinkPage, bool) {
	page, err := s.engine.LinkView(r.Context(), slug, token)
	switch {
	case core.ErrorKind(err) == core.KindNotFound:
		s.renderLinkInvalid(w, r)
		return core.LinkPage{}, false
	case err != nil:
		s.renderLinkError(w, r, err)
		return core.LinkPage{}, false
	}
	return page, true
}

// renderPresenceAgain answers a form without the number shown on the
// page: the form again, with a fresh nonce, when the link is still open.
func (s *Server) renderPresenceAgain(w http.ResponseWriter, r *http.Request, page core.LinkPage, token string, now time.Time) {
	data := s.linkData(page)
	data.Outcome = outcomeOf(page.State)
	status := http.StatusGone
	if data.Outcome == linkForm {
		status = http.StatusBadRequest
		s.newForm(&data, token, now)
		data.PresenceError = "Type the number shown on the page, then press the button again."
	}
	s.renderLink(w, r, status, data)
}

// renderLinkAnswered renders the page after LinkConfirm answered v, err.
func (s *Server) renderLinkAnswered(w http.ResponseWriter, r *http.Request, page core.LinkPage, v core.Verification, err error, token string, now time.Time) {
	data := s.linkData(page)
	status := http.StatusOK
	switch {
	case err == nil && v.Status == core.StatusVerified:
		data.Outcome = linkConfirmed
	case err == nil:
		data.Outcome = linkDeclined
	case page.State == core.LinkOpen:
		// A wrong code (or a refusal such as a rate limit): ask again.
		status, _, _ = s.classify(r, err)
		data.Outcome, data.CodeError = linkForm, sentence(core.ErrorMessage(err))
		s.newForm(&data, token, now)
	default:
		status, data.Outcome = http.StatusGone, outcomeOf(page.State)
	}
	s.renderLink(w, r, status, data)
}

// newForm gives data a fresh nonce and its presence number.
func (s *Server) newForm(data *linkPageData, token string, now time.Time) {
	data.Nonce = s.mintNonce(token, now)
	data.Presence = s.presenceCode(data.Nonce)
}
