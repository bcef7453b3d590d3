package web

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/gorilla/mux"
)

// The end-user self-serve page (/r/{tenant}): name the account, type the
// code texted to the registered mobile with what to do (and the new
// password), then follow the request the harvester carries out. Every
// answer is a POST carrying the nonce of the page view that showed the
// form; GET changes nothing. Wrong codes count against the client address
// as well as the code and the user (security.md §1.2).

func (s *Server) registerSelfServeRoutes(r *mux.Router) {
	r.HandleFunc("/r/{tenant}", s.handleSelfServePage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/r/{tenant}", s.handleSelfServeStart).Methods(http.MethodPost)
	r.HandleFunc("/r/{tenant}/code", s.handleSelfServeCode).Methods(http.MethodPost)
	r.HandleFunc("/r/{tenant}/requests/{id}", s.handleSelfServeRequest).Methods(http.MethodGet, http.MethodHead)
}

type selfServePageData struct {
	Tenant                   core.Tenant
	Name                     string
	Logo                     template.URL
	Step                     string // account, code, status, invalid
	Nonce                    string
	Account                  string
	Challenge                string
	Action                   string
	Error                    string
	CodeError, PasswordError string
	Request                  core.SelfServeRequest
	RequestID                string
}

func (s *Server) selfServeData(t core.Tenant, step string) selfServePageData {
	d := selfServePageData{Tenant: t, Name: t.DisplayName(), Step: step}
	if logoURI.MatchString(t.Branding.LogoDataURI) {
		d.Logo = template.URL(t.Branding.LogoDataURI)
	}
	return d
}

func (s *Server) renderSelfServe(w http.ResponseWriter, r *http.Request, status int, d selfServePageData) {
	linkHeaders(w)
	s.renderHTML(w, r, status, assets.PageSelfServe, d)
}

// selfServeOrigin refuses a cross-site POST (the browser sends Origin).
func (s *Server) selfServeOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || o == s.origin || o == "null"
}

func (s *Server) selfServeTenant(w http.ResponseWriter, r *http.Request) (core.Tenant, bool) {
	t, err := s.engine.TenantBySlug(r.Context(), pathVar(r, "tenant"))
	if err != nil {
		if core.ErrorKind(err) != core.KindNotFound {
			s.classify(r, err)
			s.renderSelfServe(w, r, http.StatusServiceUnavailable, selfServePageData{Step: "invalid",
				Error: "Something went wrong on our side. Please try again in a minute."})
			return core.Tenant{}, false
		}
		s.renderSelfServe(w, r, http.StatusNotFound, selfServePageData{Step: "invalid"})
		return core.Tenant{}, false
	}
	return t, true
}

func selfServeNonceKey(slug string) string { return "selfserve/" + slug }

// handleSelfServePage handles "GET /r/{tenant}": the account form.
func (s *Server) handleSelfServePage(w http.ResponseWriter, r *http.Request) {
	t, ok := s.selfServeTenant(w, r)
	if !ok {
		return
	}
	d := s.selfServeData(t, "account")
	d.Nonce = s.mintNonce(selfServeNonceKey(t.Slug), s.engine.Now())
	s.renderSelfServe(w, r, http.StatusOK, d)
}

// selfServeForm reads a POST of the page: same-origin, small, with a nonce
// of one of its views. On false the answer has been written.
func (s *Server) selfServeForm(w http.ResponseWriter, r *http.Request, t core.Tenant) bool {
	refuse := func(status int, msg string) {
		s.log.WarnContext(r.Context(), "self-serve form refused", "request_id", requestID(r), "status", status, "reason", msg)
		d := s.selfServeData(t, "account")
		d.Error = msg
		d.Nonce = s.mintNonce(selfServeNonceKey(t.Slug), s.engine.Now())
		s.renderSelfServe(w, r, status, d)
	}
	if status, msg := s.readEndUserPost(w, r, selfServeNonceKey(t.Slug)); status != 0 {
		refuse(status, msg)
		return false
	}
	return true
}

// readEndUserPost reads the POST of a scriptless end-user page
// (self-serve, Verify my technician): same-origin, at most 4 KiB, with a
// nonce under nonceKey of one of the page's views. It returns 0, or the
// status and the message to show when the form is refused.
func (s *Server) readEndUserPost(w http.ResponseWriter, r *http.Request, nonceKey string) (int, string) {
	if !s.selfServeOrigin(r) {
		return http.StatusForbidden, "This form must be sent from our own page. Open it again and start over."
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		return http.StatusBadRequest, "The form could not be read. Start over."
	}
	if !s.nonceValid(nonceKey, r.PostForm.Get("nonce"), s.engine.Now()) {
		return http.StatusBadRequest, "This page was open too long. Start over."
	}
	return 0, ""
}

// handleSelfServeStart handles "POST /r/{tenant}": account → a code to the
// registered mobile, when the account may use self-serve. The answer is
// the same either way.
func (s *Server) handleSelfServeStart(w http.ResponseWriter, r *http.Request) {
	t, ok := s.selfServeTenant(w, r)
	if !ok || !s.selfServeForm(w, r, t) {
		return
	}
	account := strings.TrimSpace(r.PostForm.Get("account"))
	start, err := s.engine.StartSelfServe(r.Context(), t.Slug, account)
	if err != nil {
		status, msg, _ := s.classify(r, err)
		d := s.selfServeData(t, "account")
		d.Account, d.Error = account, msg
		if status >= 500 {
			d.Error = "Something went wrong on our side. Please try again in a minute."
		}
		d.Nonce = s.mintNonce(selfServeNonceKey(t.Slug), s.engine.Now())
		s.renderSelfServe(w, r, status, d)
		return
	}
	d := s.selfServeData(t, "code")
	d.Account, d.Challenge = account, start.ChallengeID
	d.Nonce = s.mintNonce(selfServeNonceKey(t.Slug), s.engine.Now())
	s.renderSelfServe(w, r, http.StatusOK, d)
}

// handleSelfServeCode handles "POST /r/{tenant}/code": challenge, code,
// action (reset|unlock) and the new password twice. A match queues the
// request and redirects to its status page (303, so a reload does not
// post again).
func (s *Server) handleSelfServeCode(w http.ResponseWriter, r *http.Request) {
	t, ok := s.selfServeTenant(w, r)
	if !ok || !s.selfServeForm(w, r, t) {
		return
	}
	f := r.PostForm
	again := func(status int, codeErr, pwErr string) {
		d := s.selfServeData(t, "code")
		d.Account, d.Challenge = f.Get("account"), f.Get("challenge")
		d.CodeError, d.PasswordError = codeErr, pwErr
		d.Nonce = s.mintNonce(selfServeNonceKey(t.Slug), s.engine.Now())
		s.renderSelfServe(w, r, status, d)
	}
	a := core.SelfServeAnswer{ChallengeID: f.Get("challenge"), Code: f.Get("code"), Action: core.SelfServeAction(f.Get("action"))}
	if a.Action == core.SelfServeReset {
		a.Password = f.Get("password")
		if a.Password != f.Get("password2") {
			again(http.StatusBadRequest, "", "The two new passwords are not the same.")
			return
		}
	}
	done, err := s.selfServeThrottle.Begin(r.Context(), throttleKey(s.clientAddr(r)))
	if err != nil {
		setRetryAfter(w, err)
		again(http.StatusTooManyRequests, "Too many wrong codes from this network. Wait a few minutes and try again.", "")
		return
	}
	req, err := s.engine.CompleteSelfServe(r.Context(), t.Slug, a)
	// Only a wrong code counts; the engine returns the sentinel itself.
	done(err != core.ErrSelfServeCode)
	if err != nil {
		status, msg, kind := s.classify(r, err)
		switch {
		case kind == core.KindInvalid && strings.Contains(msg, "password"):
			again(status, "", msg)
		case kind == core.KindInvalid:
			again(status, msg, "")
		case status >= 500 && kind != core.KindUnavailable:
			again(http.StatusServiceUnavailable, "Something went wrong on our side. Please try again in a minute.", "")
		default:
			again(status, msg, "")
		}
		return
	}
	http.Redirect(w, r, "/r/"+t.Slug+"/requests/"+req.ID, http.StatusSeeOther)
}

// handleSelfServeRequest handles "GET /r/{tenant}/requests/{id}": the
// request's status; it changes nothing.
func (s *Server) handleSelfServeRequest(w http.ResponseWriter, r *http.Request) {
	req, t, err := s.engine.SelfServeRequestView(r.Context(), pathVar(r, "tenant"), pathVar(r, "id"))
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			s.renderSelfServe(w, r, http.StatusNotFound, selfServePageData{Step: "invalid"})
			return
		}
		s.classify(r, err)
		s.renderSelfServe(w, r, http.StatusServiceUnavailable, selfServePageData{Step: "invalid",
			Error: "Something went wrong on our side. Please try again in a minute."})
		return
	}
	d := s.selfServeData(t, "status")
	d.Request, d.RequestID = req, req.ID
	s.renderSelfServe(w, r, http.StatusOK, d)
}

// newSelfServeThrottle limits wrong codes per client address on the page:
// 5 pass, then growing delays, then 429 after 20 in 15 minutes.
func newSelfServeThrottle() *auth.Throttle {
	return &auth.Throttle{Window: 15 * time.Minute, Free: 5, Max: 20, Delay: 250 * time.Millisecond, MaxDelay: 4 * time.Second, MaxKeys: 100_000}
}
