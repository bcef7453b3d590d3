package web

import (
	"html/template"
	"net/http"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The self-serve welcome page (/w/{tenant}/{token}), the link in the
// welcome e-mail: a user confirms the mobile number on record. Like the
// verification link page, GET changes nothing and the answer is a POST
// carrying the nonce of a page view, so link scanners answer nothing.

func (s *Server) registerWelcomeRoutes(r *mux.Router) {
	r.HandleFunc("/w/{tenant}/{token}", s.handleWelcomePage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/w/{tenant}/{token}", s.handleWelcomeAnswer).Methods(http.MethodPost)
}

type welcomePageData struct {
	Tenant  core.Tenant
	Name    string
	Logo    template.URL
	Page    core.WelcomePage
	Outcome string // form, confirmed, declined, used, invalid, retry
	Message string
	Nonce   string
}

func (s *Server) welcomeData(p core.WelcomePage) welcomePageData {
	d := welcomePageData{Tenant: p.Tenant, Name: p.Tenant.DisplayName(), Page: p}
	if logoURI.MatchString(p.Tenant.Branding.LogoDataURI) {
		d.Logo = template.URL(p.Tenant.Branding.LogoDataURI)
	}
	return d
}

func (s *Server) renderWelcome(w http.ResponseWriter, r *http.Request, status int, d welcomePageData) {
	s.renderHTML(w, r, status, assets.PageWelcome, d)
}

// handleWelcomePage handles "GET /w/{tenant}/{token}".
func (s *Server) handleWelcomePage(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	token := pathVar(r, "token")
	p, err := s.engine.WelcomeView(r.Context(), pathVar(r, "tenant"), token)
	switch {
	case core.ErrorKind(err) == core.KindNotFound:
		s.renderWelcome(w, r, http.StatusNotFound, welcomePageData{Outcome: "invalid"})
		return
	case err != nil:
		s.classify(r, err)
		s.renderWelcome(w, r, http.StatusServiceUnavailable, welcomePageData{Outcome: "retry",
			Message: "Something went wrong on our side. Please try again in a minute."})
		return
	}
	d := s.welcomeData(p)
	d.Outcome = "form"
	if p.Used {
		d.Outcome = "used"
	} else {
		d.Nonce = s.mintNonce("welcome/"+token, s.engine.Now())
	}
	s.renderWelcome(w, r, http.StatusOK, d)
}

// handleWelcomeAnswer handles "POST /w/{tenant}/{token}": answer=yes|no.
func (s *Server) handleWelcomeAnswer(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	retry := func(status int, msg string) {
		s.log.WarnContext(r.Context(), "welcome answer refused", "request_id", requestID(r), "status", status, "reason", msg)
		s.renderWelcome(w, r, status, welcomePageData{Outcome: "retry", Message: msg})
	}
	if o := r.Header.Get("Origin"); o != "" && o != s.origin && o != "null" {
		retry(http.StatusForbidden, "This form must be sent from our own page. Open the link from your e-mail again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		retry(http.StatusBadRequest, "The form could not be read. Open the link from your e-mail again.")
		return
	}
	token := pathVar(r, "token")
	if !s.nonceValid("welcome/"+token, r.PostForm.Get("nonce"), s.engine.Now()) {
		retry(http.StatusBadRequest, "This page was open too long. Open the link from your e-mail again.")
		return
	}
	var mine bool
	switch r.PostForm.Get("answer") {
	case "yes":
		mine = true
	case "no":
	default:
		retry(http.StatusBadRequest, "Choose one of the two buttons. Open the link from your e-mail again.")
		return
	}
	p, err := s.engine.AnswerWelcome(r.Context(), pathVar(r, "tenant"), token, mine)
	// core.ErrorKind(nil) is KindInternal, not "": test err itself first.
	switch kind := core.ErrorKind(err); {
	case err == nil:
	case kind == core.KindNotFound:
		s.renderWelcome(w, r, http.StatusNotFound, welcomePageData{Outcome: "invalid"})
		return
	case kind == core.KindConflict:
		s.renderWelcome(w, r, http.StatusConflict, welcomePageData{Outcome: "used"})
		return
	default:
		s.classify(r, err)
		retry(http.StatusServiceUnavailable, "Something went wrong on our side. Please try again in a minute.")
		return
	}
	d := s.welcomeData(p)
	d.Outcome = "declined"
	if mine {
		d.Outcome = "confirmed"
	}
	s.renderWelcome(w, r, http.StatusOK, d)
}
