package web

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// SMS opt-in forms (issue 18 item 4). A technician sends one from the
// contact card (console and pods share it) or many from /app/optin after
// a review of their numbers; the end user answers on /o/{tenant}/{token}.
// Handlers parse, authorise, call the engine and render: the engine writes
// and audits.

func (s *Server) registerOptInPageRoutes(r *mux.Router) {
	r.HandleFunc("/app/optin", s.handleOptInPage).Methods(http.MethodGet)
	r.HandleFunc("/o/{tenant}/{token}", s.handleOptInForm).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/o/{tenant}/{token}", s.handleOptInAnswer).Methods(http.MethodPost)
}

func (s *Server) registerOptInRoutes(r *mux.Router) {
	r.HandleFunc("/contacts/{id}/optin", s.handleOptInSendOne).Methods(http.MethodPost)
	r.HandleFunc("/optin/candidates", s.handleOptInCandidates).Methods(http.MethodGet)
	r.HandleFunc("/optin/send", s.handleOptInSend).Methods(http.MethodPost)
	r.HandleFunc("/optin/settings", s.handleOptInSettings).Methods(http.MethodGet)
	r.HandleFunc("/optin/settings", s.handlePutOptInSettings).Methods(http.MethodPut)
}

// optInOut is a contact's opt-in state as the card, the list and the pods
// show it: a green check with its date when opted in.
type optInOut struct {
	State string     `json:"state"` // "opted_in", "opted_out" or "none"
	At    *time.Time `json:"at,omitempty"`
	Phone string     `json:"phone,omitempty"` // masked
}

func optInJSON(st core.OptInState) *optInOut {
	if st.Phone == "" {
		return nil
	}
	out := &optInOut{State: "none", Phone: core.MaskDestination(core.DestPhone, st.Phone)}
	switch {
	case st.OptedIn:
		out.State, out.At = "opted_in", &st.OptedInAt
	case st.OptedOut:
		out.State, out.At = "opted_out", &st.OptedOutAt
	}
	return out
}

// handleOptInPage handles "GET /app/optin": the bulk send and its review.
func (s *Server) handleOptInPage(w http.ResponseWriter, r *http.Request) {
	tech, err := s.consoleTechnician(r)
	if err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderHTML(w, r, http.StatusOK, assets.PageOptIn, consolePage{Dev: s.engine.DevDelivery(), Admin: tech.Role.IsAdmin(),
		TimeZone: s.tenantZone(r.Context(), tech.TenantID), Active: "optin", Issues: s.channelIssues(r.Context(), tech)})
}

type optInSendRequest struct {
	ContactIDs []string `json:"contact_ids"`
	Channel    string   `json:"channel"` // "email" (default) or "sms"
}

type optInSkipOut struct {
	ContactID string `json:"contact_id"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
}

func optInResultJSON(res core.OptInResult) map[string]any {
	skipped := make([]optInSkipOut, 0, len(res.Skipped))
	for _, k := range res.Skipped {
		skipped = append(skipped, optInSkipOut{ContactID: k.ContactID, Name: k.Name, Reason: k.Reason})
	}
	return map[string]any{"sent": res.Sent, "skipped": skipped}
}

// handleOptInSendOne handles "POST /api/v1/contacts/{id}/optin": one form,
// from the contact card in the console or a pod. A contact the form cannot
// reach answers with why (an opted-out number: use e-mail).
func (s *Server) handleOptInSendOne(w http.ResponseWriter, r *http.Request) {
	var in optInSendRequest
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.engine.SendOptInForms(r.Context(), techFrom(r), []string{pathVar(r, "id")}, core.OptInChannel(in.Channel))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, optInResultJSON(res))
}

// handleOptInSend handles "POST /api/v1/optin/send": the bulk send of the
// contacts chosen on the review screen.
func (s *Server) handleOptInSend(w http.ResponseWriter, r *http.Request) {
	var in optInSendRequest
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.engine.SendOptInForms(r.Context(), techFrom(r), in.ContactIDs, core.OptInChannel(in.Channel))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, optInResultJSON(res))
}

type optInCandidateOut struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Company string    `json:"company,omitempty"`
	Phone   string    `json:"phone,omitempty"` // masked E.164
	Email   string    `json:"email,omitempty"` // masked
	Flags   []string  `json:"flags"`
	Unsure  bool      `json:"unsure"` // the number may not be the one meant: left unticked
	NoEmail string    `json:"no_email,omitempty"`
	NoSMS   string    `json:"no_sms,omitempty"`
	OptIn   *optInOut `json:"sms_opt_in,omitempty"`
}

// handleOptInCandidates handles "GET /api/v1/optin/candidates?client=&name=&phone=":
// the review of a bulk send. Flags name what is wrong with a number as it
// was written; the number itself is masked, as everywhere in the console.
func (s *Server) handleOptInCandidates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := core.OptInFilter{ClientID: q.Get("client"), Name: strings.TrimSpace(q.Get("name")), Phone: strings.TrimSpace(q.Get("phone"))}
	if len(f.Name) > 100 || len(f.Phone) > 40 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "the name or phone to filter by is too long"))
		return
	}
	cands, err := s.engine.OptInCandidates(r.Context(), techFrom(r).TenantID, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]optInCandidateOut, 0, len(cands))
	for _, k := range cands {
		o := optInCandidateOut{ID: k.Contact.ID, Name: k.Contact.Name(), Company: k.ClientName, Flags: k.Flags,
			NoEmail: k.NoEmail, NoSMS: k.NoSMS, Unsure: k.Unsure, OptIn: optInJSON(k.State)}
		if o.Flags == nil {
			o.Flags = []string{}
		}
		if k.Phone.Value != "" {
			o.Phone = k.Phone.Masked()
		}
		if k.Email != "" {
			o.Email = core.MaskDestination(core.DestEmail, k.Email)
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": out, "max": core.MaxOptInBatch})
}

// handleOptInSettings handles "GET /api/v1/optin/settings".
func (s *Server) handleOptInSettings(w http.ResponseWriter, r *http.Request) {
	st, err := s.engine.OptInSettingsOf(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"allow_correction": st.AllowCorrection})
}

// handlePutOptInSettings handles "PUT /api/v1/optin/settings" (admins).
func (s *Server) handlePutOptInSettings(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		AllowCorrection bool `json:"allow_correction"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	if err := s.engine.PutOptInSettings(r.Context(), tech.TenantID, "tech:"+tech.ID, in.AllowCorrection); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"allow_correction": in.AllowCorrection})
}

// The end user's page. Like the verification link and the welcome page,
// GET changes nothing and the answer is a POST carrying the nonce of a
// page view, so link scanners answer nothing (security.md §5).

type optInPageData struct {
	Tenant  core.Tenant
	Name    string
	Logo    template.URL
	Page    core.OptInPage
	Outcome string // form, consented, declined, used, invalid, retry
	Message string
	Nonce   string
	Phone   string // what the end user typed, shown again after a refusal
}

func (s *Server) optInData(p core.OptInPage) optInPageData {
	d := optInPageData{Tenant: p.Tenant, Name: p.Tenant.DisplayName(), Page: p}
	if logoURI.MatchString(p.Tenant.Branding.LogoDataURI) {
		d.Logo = template.URL(p.Tenant.Branding.LogoDataURI)
	}
	return d
}

func (s *Server) renderOptIn(w http.ResponseWriter, r *http.Request, status int, d optInPageData) {
	s.renderHTML(w, r, status, assets.PageOptInForm, d)
}

// handleOptInForm handles "GET /o/{tenant}/{token}".
func (s *Server) handleOptInForm(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	token := pathVar(r, "token")
	p, err := s.engine.OptInView(r.Context(), pathVar(r, "tenant"), token)
	switch {
	case core.ErrorKind(err) == core.KindNotFound:
		s.renderOptIn(w, r, http.StatusNotFound, optInPageData{Outcome: "invalid"})
		return
	case err != nil:
		s.classify(r, err)
		s.renderOptIn(w, r, http.StatusServiceUnavailable, optInPageData{Outcome: "retry",
			Message: "Something went wrong on our side. Please try again in a minute."})
		return
	}
	d := s.optInData(p)
	d.Outcome = "form"
	if p.Answered {
		d.Outcome = "used"
	} else {
		d.Nonce = s.mintNonce("optin/"+token, s.engine.Now())
	}
	s.renderOptIn(w, r, http.StatusOK, d)
}

// handleOptInAnswer handles "POST /o/{tenant}/{token}": answer=yes|no, and
// phone (a corrected number) when the MSP allows it.
func (s *Server) handleOptInAnswer(w http.ResponseWriter, r *http.Request) {
	linkHeaders(w)
	retry := func(status int, msg string) {
		s.log.WarnContext(r.Context(), "opt-in answer refused", "request_id", requestID(r), "status", status, "reason", msg)
		s.renderOptIn(w, r, status, optInPageData{Outcome: "retry", Message: msg})
	}
	if o := r.Header.Get("Origin"); o != "" && o != s.origin && o != "null" {
		retry(http.StatusForbidden, "This form must be sent from our own page. Open the link from your message again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		retry(http.StatusBadRequest, "The form could not be read. Open the link from your message again.")
		return
	}
	token := pathVar(r, "token")
	if !s.nonceValid("optin/"+token, r.PostForm.Get("nonce"), s.engine.Now()) {
		retry(http.StatusBadRequest, "This page was open too long. Open the link from your message again.")
		return
	}
	a := core.OptInAnswer{Phone: strings.TrimSpace(r.PostForm.Get("phone")), IP: s.clientAddr(r).String(), UserAgent: r.UserAgent()}
	switch r.PostForm.Get("answer") {
	case "yes":
		a.Consent = true
	case "no":
		a.Phone = ""
	default:
		retry(http.StatusBadRequest, "Choose one of the buttons. Open the link from your message again.")
		return
	}
	p, err := s.engine.AnswerOptIn(r.Context(), pathVar(r, "tenant"), token, a)
	switch kind := core.ErrorKind(err); {
	case err == nil:
	case kind == core.KindNotFound:
		s.renderOptIn(w, r, http.StatusNotFound, optInPageData{Outcome: "invalid"})
		return
	case kind == core.KindConflict:
		s.renderOptIn(w, r, http.StatusConflict, optInPageData{Outcome: "used"})
		return
	case kind == core.KindInvalid || kind == core.KindForbidden:
		// A number we cannot take: the form again, with the reason and a
		// fresh nonce (nothing was written).
		view, verr := s.engine.OptInView(r.Context(), pathVar(r, "tenant"), token)
		if verr != nil {
			s.renderOptIn(w, r, http.StatusNotFound, optInPageData{Outcome: "invalid"})
			return
		}
		d := s.optInData(view)
		d.Outcome, d.Message, d.Phone = "form", core.ErrorMessage(err), a.Phone
		d.Nonce = s.mintNonce("optin/"+token, s.engine.Now())
		s.renderOptIn(w, r, http.StatusUnprocessableEntity, d)
		return
	default:
		s.classify(r, err)
		retry(http.StatusServiceUnavailable, "Something went wrong on our side. Please try again in a minute.")
		return
	}
	d := s.optInData(p)
	d.Outcome = "declined"
	if a.Consent {
		d.Outcome = "consented"
	}
	s.renderOptIn(w, r, http.StatusOK, d)
}
