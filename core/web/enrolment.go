package web

import (
	"net/http"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The confirmation page of a ticket logged from the agent's tray by a user
// not bound yet ("Confirmation required for ticket"): GET shows what is
// confirmed and changes nothing; only the page's own form, with its nonce
// and the number a person types back (a mail scanner following the link
// cannot), binds the user and sends the ticket.

func (s *Server) registerEnrolmentRoutes(r *mux.Router) {
	r.HandleFunc("/e/{token}", s.handleEnrolmentPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/e/{token}", s.handleEnrolmentConfirm).Methods(http.MethodPost)
}

type enrolmentPageData struct {
	View          core.EnrolmentView
	Outcome       string // form, confirmed, gone, invalid, retry
	Heading       string
	Message       string
	Nonce         string
	Presence      string
	PresenceError string
}

var enrolmentHeadings = map[string]string{
	"form":      "Confirm your ticket",
	"confirmed": "Your ticket is on its way",
	"gone":      "This link no longer works",
	"invalid":   "This link is not valid",
	"retry":     "Please open the link again",
}

func (s *Server) renderEnrolment(w http.ResponseWriter, r *http.Request, status int, d enrolmentPageData) {
	linkHeaders(w)
	d.Heading = enrolmentHeadings[d.Outcome]
	s.renderHTML(w, r, status, assets.PageEnrolment, d)
}

// enrolmentForm renders the form of a pending, unexpired enrolment, or
// what became of it.
func (s *Server) enrolmentForm(w http.ResponseWriter, r *http.Request, token string, status int, presenceError string) {
	v, err := s.engine.EnrolmentForToken(r.Context(), token)
	if err != nil {
		s.enrolmentError(w, r, err)
		return
	}
	switch {
	case v.State == core.EnrolmentDone:
		s.renderEnrolment(w, r, http.StatusOK, enrolmentPageData{View: v, Outcome: "gone", Message: "This ticket was already confirmed and sent. You can close this page."})
	case v.State != core.EnrolmentPending:
		s.renderEnrolment(w, r, http.StatusGone, enrolmentPageData{View: v, Outcome: "gone", Message: "A newer confirmation e-mail replaced this one; use the newest link."})
	case v.Expired:
		s.renderEnrolment(w, r, http.StatusGone, enrolmentPageData{View: v, Outcome: "gone", Message: "This link has expired. Log the ticket again from the Countersign icon on your computer."})
	default:
		nonce := s.mintNonce(token, s.engine.Now())
		s.renderEnrolment(w, r, status, enrolmentPageData{View: v, Outcome: "form", Nonce: nonce, Presence: s.presenceCode(nonce), PresenceError: presenceError})
	}
}

func (s *Server) handleEnrolmentPage(w http.ResponseWriter, r *http.Request) {
	s.enrolmentForm(w, r, pathVar(r, "token"), http.StatusOK, "")
}

func (s *Server) handleEnrolmentConfirm(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != s.origin && o != "null" {
		s.renderEnrolment(w, r, http.StatusForbidden, enrolmentPageData{Outcome: "retry", Message: "This form must be sent from our own page. Open the link from your e-mail again."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		s.renderEnrolment(w, r, http.StatusBadRequest, enrolmentPageData{Outcome: "retry", Message: "The form could not be read. Open the link from your e-mail again."})
		return
	}
	token, nonce := pathVar(r, "token"), r.PostForm.Get("nonce")
	if !s.nonceValid(token, nonce, s.engine.Now()) {
		s.renderEnrolment(w, r, http.StatusBadRequest, enrolmentPageData{Outcome: "retry", Message: "This page was open too long. Open the link from your e-mail again."})
		return
	}
	if !s.presentFor(nonce, r.PostForm.Get("presence")) {
		s.enrolmentForm(w, r, token, http.StatusUnprocessableEntity, "That is not the number shown. Type the new number above.")
		return
	}
	v, err := s.engine.ConfirmEnrolment(r.Context(), token)
	if err != nil {
		s.enrolmentError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "tray ticket confirmed", "client", v.Client)
	s.renderEnrolment(w, r, http.StatusOK, enrolmentPageData{View: v, Outcome: "confirmed"})
}

// enrolmentError renders an unknown link as one page that names no one,
// and a used or expired one with the reason.
func (s *Server) enrolmentError(w http.ResponseWriter, r *http.Request, err error) {
	switch core.ErrorKind(err) {
	case core.KindNotFound:
		s.renderEnrolment(w, r, http.StatusNotFound, enrolmentPageData{Outcome: "invalid",
			Message: "Log the ticket again from the Countersign icon on your computer, or call your IT help desk."})
	case core.KindGone:
		s.renderEnrolment(w, r, http.StatusGone, enrolmentPageData{Outcome: "gone", Message: core.ErrorMessage(err)})
	default:
		s.log.ErrorContext(r.Context(), "tray ticket confirmation failed", "err", err)
		s.renderEnrolment(w, r, http.StatusServiceUnavailable, enrolmentPageData{Outcome: "retry",
			Message: "Something went wrong on our side. Try the link again in a few minutes."})
	}
}
