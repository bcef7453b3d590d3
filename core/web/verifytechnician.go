package web

import (
	"net/http"
	"strings"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The end user's "Verify my technician" page (/v/{tenant}, issue 18.2):
// the mobile number → a code texted to it, the same the technician on the
// phone sees → the user types it back, which confirms the check. No
// script. Every answer is a POST carrying the nonce of the page view that
// showed the form; GET changes nothing. Wrong codes count against the
// client address (with the self-serve page's throttle, under its own keys).

func (s *Server) registerVerifyTechnicianRoutes(r *mux.Router) {
	r.HandleFunc("/v/{tenant}", s.handleVerifyTechnicianPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/v/{tenant}", s.handleVerifyTechnicianStart).Methods(http.MethodPost)
	r.HandleFunc("/v/{tenant}/code", s.handleVerifyTechnicianCode).Methods(http.MethodPost)
}

type verifyTechnicianPage struct {
	selfServePageData
	Phone, Masked string
	Result        string // the outcome in words, step "result"
	Confirmed     bool
}

func verifyTechnicianNonceKey(slug string) string { return "verifytech/" + slug }

func (s *Server) renderVerifyTechnician(w http.ResponseWriter, r *http.Request, status int, d verifyTechnicianPage) {
	linkHeaders(w)
	if d.Tenant.Slug != "" && d.Step != "result" && d.Step != "invalid" {
		d.Nonce = s.mintNonce(verifyTechnicianNonceKey(d.Tenant.Slug), s.engine.Now())
	}
	s.renderHTML(w, r, status, assets.PageVerifyTechnician, d)
}

func (s *Server) verifyTechnicianData(t core.Tenant, step string) verifyTechnicianPage {
	return verifyTechnicianPage{selfServePageData: s.selfServeData(t, step)}
}

// verifyTechnicianForm reads a POST of the page (readEndUserPost). On
// false the answer has been written.
func (s *Server) verifyTechnicianForm(w http.ResponseWriter, r *http.Request, t core.Tenant) bool {
	refuse := func(status int, msg string) {
		s.log.WarnContext(r.Context(), "verify-technician form refused", "request_id", requestID(r), "status", status, "reason", msg)
		d := s.verifyTechnicianData(t, "phone")
		d.Error = msg
		s.renderVerifyTechnician(w, r, status, d)
	}
	if status, msg := s.readEndUserPost(w, r, verifyTechnicianNonceKey(t.Slug)); status != 0 {
		refuse(status, msg)
		return false
	}
	return true
}

// verifyTechnicianTenant is selfServeTenant for this page.
func (s *Server) verifyTechnicianTenant(w http.ResponseWriter, r *http.Request) (core.Tenant, bool) {
	t, err := s.engine.TenantBySlug(r.Context(), pathVar(r, "tenant"))
	if err != nil {
		d := verifyTechnicianPage{}
		d.Step = "invalid"
		status := http.StatusNotFound
		if core.ErrorKind(err) != core.KindNotFound {
			s.classify(r, err)
			status, d.Error = http.StatusServiceUnavailable, "Something went wrong on our side. Please try again in a minute."
		}
		s.renderVerifyTechnician(w, r, status, d)
		return core.Tenant{}, false
	}
	return t, true
}

// handleVerifyTechnicianPage handles "GET /v/{tenant}": the number form.
func (s *Server) handleVerifyTechnicianPage(w http.ResponseWriter, r *http.Request) {
	t, ok := s.verifyTechnicianTenant(w, r)
	if !ok {
		return
	}
	s.renderVerifyTechnician(w, r, http.StatusOK, s.verifyTechnicianData(t, "phone"))
}

// handleVerifyTechnicianStart handles "POST /v/{tenant}": the number → the
// code step. The page says the same whether or not the number is on file.
func (s *Server) handleVerifyTechnicianStart(w http.ResponseWriter, r *http.Request) {
	t, ok := s.verifyTechnicianTenant(w, r)
	if !ok || !s.verifyTechnicianForm(w, r, t) {
		return
	}
	phone := strings.TrimSpace(r.PostForm.Get("phone"))
	start, err := s.engine.StartTechVerifyOnPage(r.Context(), t.Slug, phone)
	if err != nil {
		status, msg, _ := s.classify(r, err)
		d := s.verifyTechnicianData(t, "phone")
		d.Phone, d.Error = phone, msg
		if status >= 500 && core.ErrorKind(err) != core.KindUnavailable {
			d.Error = "Something went wrong on our side. Please try again in a minute."
		}
		s.renderVerifyTechnician(w, r, status, d)
		return
	}
	d := s.verifyTechnicianData(t, "code")
	d.Phone, d.Masked = start.Phone, start.Masked
	s.renderVerifyTechnician(w, r, http.StatusOK, d)
}

// handleVerifyTechnicianCode handles "POST /v/{tenant}/code": the code the
// user was texted, typed back, confirms the check.
func (s *Server) handleVerifyTechnicianCode(w http.ResponseWriter, r *http.Request) {
	t, ok := s.verifyTechnicianTenant(w, r)
	if !ok || !s.verifyTechnicianForm(w, r, t) {
		return
	}
	f := r.PostForm
	again := func(status int, msg string) {
		d := s.verifyTechnicianData(t, "code")
		d.Phone, d.Masked, d.CodeError = f.Get("phone"), core.MaskDestination(core.DestPhone, f.Get("phone")), msg
		s.renderVerifyTechnician(w, r, status, d)
	}
	done, err := s.selfServeThrottle.Begin(r.Context(), "verifytech/"+throttleKey(s.clientAddr(r)))
	if err != nil {
		setRetryAfter(w, err)
		again(http.StatusTooManyRequests, "Too many wrong codes from this network. Wait a few minutes and try again.")
		return
	}
	result, err := s.engine.ConfirmTechVerifyOnPage(r.Context(), t.Slug, f.Get("phone"), f.Get("code"))
	done(err != core.ErrTechVerifyPageCode)
	if err != nil {
		status, msg, kind := s.classify(r, err)
		if status >= 500 && kind != core.KindUnavailable {
			status, msg = http.StatusServiceUnavailable, "Something went wrong on our side. Please try again in a minute."
		}
		again(status, msg)
		return
	}
	d := s.verifyTechnicianData(t, "result")
	d.Result, d.Confirmed = result.Text, result.Confirmed
	s.renderVerifyTechnician(w, r, http.StatusOK, d)
}
