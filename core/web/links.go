package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The end-user link page (security.md §5): GET and HEAD show what is being
// confirmed and change nothing; only a POST from the page's own form, which
// carries a nonce minted by the GET, confirms or declines.

func (s *Server) registerLinkRoutes(r *mux.Router) {
	r.HandleFunc("/l/{tenant}/{token}", s.handleLinkPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/l/{tenant}/{token}", s.handleLinkAnswer).Methods(http.MethodPost)
}

// linkNonceTTL bounds how long a rendered page's form stays usable.
const linkNonceTTL = 15 * time.Minute

// linkPageData is what link templates see.
type linkPageData struct {
	Tenant    core.Tenant
	Page      core.LinkPage
	Nonce     string
	Message   string // result or error text
	Outcome   string // "form", "confirmed", "declined", "invalid", "closed"
	CodeError string
}

// mintNonce ties a form to the token and the time it was rendered, without
// storing anything: GET stays free of state changes.
func (s *Server) mintNonce(token string, at time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(ts[:], s.nonceMAC(token, ts[:])...))
}

func (s *Server) nonceMAC(token string, ts []byte) []byte {
	m := hmac.New(sha256.New, deriveSub(s.cfg.SessionKey, "link-nonce"))
	m.Write(core.LinkTokenHash(token))
	m.Write(ts)
	return m.Sum(nil)
}

// nonceValid reports whether nonce was minted for token within the TTL.
func (s *Server) nonceValid(token, nonce string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 8+sha256.Size {
		return false
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if now.Sub(at) > linkNonceTTL || at.After(now.Add(time.Minute)) {
		return false
	}
	return hmac.Equal(b[8:], s.nonceMAC(token, b[:8]))
}

// linkHeaders are set on every link response (security.md §2): the token
// must not leak through Referer or caches.
func linkHeaders(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Robots-Tag", "noindex")
}

// handleLinkPage handles "GET /l/{tenant}/{token}" and HEAD: it renders the
// confirmation page and changes nothing.
func (s *Server) handleLinkPage(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	token := pathVar(r, "token")
	page, err := s.engine.LinkView(r.Context(), pathVar(r, "tenant"), token)
	data := linkPageData{Tenant: page.Tenant, Page: page}
	switch {
	case err != nil && core.ErrorKind(err) == core.KindNotFound:
		data.Outcome, data.Message = "invalid", core.ErrorMessage(err)
		s.renderHTML(w, r, http.StatusNotFound, "link.html", data)
		return
	case err != nil:
		s.classify(r, err)
		data.Outcome, data.Message = "invalid", "Something went wrong on our side. Please try again in a minute."
		s.renderHTML(w, r, http.StatusServiceUnavailable, "link.html", data)
		return
	case page.Status == core.StatusVerified:
		data.Outcome, data.Message = "confirmed", "You have already confirmed this request. You can close this page."
	case !page.Status.Open():
		data.Outcome, data.Message = "closed", closedMessage(page.Status)
	default:
		data.Outcome = "form"
		data.Nonce = s.mintNonce(token, s.engine.Now())
	}
	s.renderHTML(w, r, http.StatusOK, "link.html", data)
}

func closedMessage(st core.Status) string {
	switch st {
	case core.StatusCancelled:
		return "This request was cancelled by your IT contact. Nothing more to do."
	case core.StatusFailed:
		return "This request can no longer be confirmed. If you are on the phone with IT, ask them to send a new one."
	}
	return "This request is closed."
}

// handleLinkAnswer handles "POST /l/{tenant}/{token}": Confirm or "This
// wasn't me" from the page's form.
func (s *Server) handleLinkAnswer(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	if o := r.Header.Get("Origin"); o != "" && o != s.origin && o != "null" {
		s.renderHTML(w, r, http.StatusForbidden, "link.html", linkPageData{Outcome: "invalid", Message: "This form must be sent from our own page."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		s.renderHTML(w, r, http.StatusBadRequest, "link.html", linkPageData{Outcome: "invalid", Message: "The form could not be read. Please open the link again."})
		return
	}
	slug, token := pathVar(r, "tenant"), pathVar(r, "token")
	now := s.engine.Now()
	if !s.nonceValid(token, r.PostForm.Get("nonce"), now) {
		// A POST without a fresh page render: a scanner replaying the form,
		// or a page left open too long. Nothing changes.
		s.renderHTML(w, r, http.StatusBadRequest, "link.html", linkPageData{Outcome: "invalid",
			Message: "This page has been open too long. Please open the link from your message again."})
		return
	}
	action := r.PostForm.Get("action")
	if action != "confirm" && action != "decline" {
		s.renderHTML(w, r, http.StatusBadRequest, "link.html", linkPageData{Outcome: "invalid", Message: "Choose Confirm or This wasn't me."})
		return
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	v, err := s.engine.LinkConfirm(r.Context(), slug, token, core.LinkAnswer{
		Decline: action == "decline", Code: r.PostForm.Get("code"), IP: ip, UserAgent: r.UserAgent(),
	})
	page, viewErr := s.engine.LinkView(r.Context(), slug, token)
	data := linkPageData{Tenant: page.Tenant, Page: page}
	switch {
	case err == nil && v.Status == core.StatusVerified:
		data.Outcome, data.Message = "confirmed", "Thank you — you are confirmed. Tell your IT contact you have pressed Confirm."
	case err == nil && v.Status == core.StatusFailed:
		data.Outcome, data.Message = "declined", "Thank you for telling us. The request has been refused and your IT team has been alerted."
	case core.ErrorKind(err) == core.KindInvalid && viewErr == nil && page.Status.Open():
		data.Outcome, data.CodeError = "form", core.ErrorMessage(err)
		data.Nonce = s.mintNonce(token, now)
		s.renderHTML(w, r, http.StatusBadRequest, "link.html", data)
		return
	case core.ErrorKind(err) == core.KindNotFound:
		data.Outcome, data.Message = "invalid", core.ErrorMessage(err)
		s.renderHTML(w, r, http.StatusNotFound, "link.html", data)
		return
	case err != nil && core.ErrorKind(err) != core.KindInternal:
		data.Outcome, data.Message = "closed", core.ErrorMessage(err)
		s.renderHTML(w, r, http.StatusGone, "link.html", data)
		return
	case err != nil:
		s.classify(r, err)
		data.Outcome, data.Message = "invalid", "Something went wrong on our side. Please try again in a minute."
		s.renderHTML(w, r, http.StatusServiceUnavailable, "link.html", data)
		return
	default:
		data.Outcome, data.Message = "closed", closedMessage(v.Status)
	}
	s.renderHTML(w, r, http.StatusOK, "link.html", data)
}
