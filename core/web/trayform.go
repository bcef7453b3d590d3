package web

import (
	"net/http"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The tray's "Log a ticket" page (/t/{token}): opened by the tray in the
// user's browser, for the Windows user the service identified. GET shows the
// form and changes nothing; the page's own POST (its nonce, same origin)
// logs the ticket once. A user not bound yet also gives a name and e-mail,
// and gets the confirmation e-mail of a first ticket.

func (s *Server) registerTrayFormRoutes(r *mux.Router) {
	r.HandleFunc("/t/{token}", s.handleTrayFormPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/t/{token}", s.handleTrayFormSubmit).Methods(http.MethodPost)
}

type trayFormPageData struct {
	View    core.TrayFormView
	Outcome string // form, logged, confirm, gone, invalid, retry
	Heading string
	Message string // an error on the form, or the outcome's words
	Nonce   string
	In      core.TrayTicket // what was typed, shown again after an error
	Result  core.TrayTicketResult
}

var trayFormHeadings = map[string]string{
	"form":     "Log a ticket",
	"register": "Tell us who you are",
	"password": "Type the password we sent",
	"signedin": "You are signed in",
	"known":    "This computer knows you",
	"logged":   "Your ticket is logged",
	"confirm":  "Check your e-mail",
	"gone":     "This form no longer works",
	"invalid":  "This form is not valid",
	"retry":    "Please try again",
}

func (s *Server) renderTrayForm(w http.ResponseWriter, r *http.Request, status int, d trayFormPageData) {
	linkHeaders(w)
	if d.Outcome == "form" && d.View.Purpose == core.TrayFormRegister {
		switch {
		case d.View.Bound:
			d.Outcome = "known"
		case d.View.AwaitingPassword:
			d.Outcome = "password"
		default:
			d.Outcome = "register"
		}
	}
	d.Heading = trayFormHeadings[d.Outcome]
	s.renderHTML(w, r, status, assets.PageTrayForm, d)
}

func (s *Server) trayFormAgain(w http.ResponseWriter, r *http.Request, token string, status int, in core.TrayTicket, msg string) {
	v, err := s.engine.TrayFormForToken(r.Context(), token)
	if err != nil {
		s.trayFormError(w, r, err)
		return
	}
	s.renderTrayForm(w, r, status, trayFormPageData{View: v, Outcome: "form", Nonce: s.mintNonce(token, s.engine.Now()), In: in, Message: msg})
}

func (s *Server) handleTrayFormPage(w http.ResponseWriter, r *http.Request) {
	s.trayFormAgain(w, r, pathVar(r, "token"), http.StatusOK, core.TrayTicket{}, "")
}

func (s *Server) handleTrayFormSubmit(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != s.origin && o != "null" {
		s.renderTrayForm(w, r, http.StatusForbidden, trayFormPageData{Outcome: "retry", Message: "This form must be sent from our own page. Choose Log a ticket in the Countersign icon again."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderTrayForm(w, r, http.StatusBadRequest, trayFormPageData{Outcome: "retry", Message: "The form could not be read (is the description very long?). Choose Log a ticket again."})
		return
	}
	token, f := pathVar(r, "token"), r.PostForm
	if !s.nonceValid(token, f.Get("nonce"), s.engine.Now()) {
		s.renderTrayForm(w, r, http.StatusBadRequest, trayFormPageData{Outcome: "retry", Message: "This page was open too long. Choose Log a ticket in the Countersign icon again."})
		return
	}
	in := core.TrayTicket{FirstName: f.Get("first_name"), LastName: f.Get("last_name"), Email: f.Get("email"), Summary: f.Get("summary"), Details: f.Get("details")}
	switch f.Get("action") {
	case "request":
		s.trayFormRegister(w, r, token, in)
		return
	case "signin":
		s.trayFormSignIn(w, r, token, f.Get("password"))
		return
	}
	res, err := s.engine.SubmitTrayForm(r.Context(), token, in)
	if err != nil {
		if k := core.ErrorKind(err); k == core.KindInvalid || k == core.KindRateLimited {
			s.trayFormAgain(w, r, token, http.StatusUnprocessableEntity, in, core.ErrorMessage(err))
			return
		}
		s.trayFormError(w, r, err)
		return
	}
	if res.State == "confirm" {
		s.renderTrayForm(w, r, http.StatusAccepted, trayFormPageData{Outcome: "confirm", Result: res})
		return
	}
	s.renderTrayForm(w, r, http.StatusCreated, trayFormPageData{Outcome: "logged", Result: res})
}

// trayFormRegister is the sign-in form's first step: the password e-mailed.
func (s *Server) trayFormRegister(w http.ResponseWriter, r *http.Request, token string, in core.TrayTicket) {
	if _, err := s.engine.RequestTrayPassword(r.Context(), token, in); err != nil {
		if k := core.ErrorKind(err); k == core.KindInvalid || k == core.KindRateLimited {
			s.trayFormAgain(w, r, token, http.StatusUnprocessableEntity, in, core.ErrorMessage(err))
			return
		}
		s.trayFormError(w, r, err)
		return
	}
	s.trayFormAgain(w, r, token, http.StatusAccepted, core.TrayTicket{}, "")
}

// trayFormSignIn is its second step: the password typed.
func (s *Server) trayFormSignIn(w http.ResponseWriter, r *http.Request, token, password string) {
	v, err := s.engine.SignInTrayForm(r.Context(), token, password)
	if err != nil {
		if core.ErrorKind(err) == core.KindInvalid {
			s.trayFormAgain(w, r, token, http.StatusUnprocessableEntity, core.TrayTicket{}, core.ErrorMessage(err))
			return
		}
		s.trayFormError(w, r, err)
		return
	}
	s.renderTrayForm(w, r, http.StatusOK, trayFormPageData{View: v, Outcome: "signedin"})
}

func (s *Server) trayFormError(w http.ResponseWriter, r *http.Request, err error) {
	switch core.ErrorKind(err) {
	case core.KindNotFound:
		s.renderTrayForm(w, r, http.StatusNotFound, trayFormPageData{Outcome: "invalid", Message: "Choose Log a ticket in the Countersign icon on your computer, or call your IT help desk."})
	case core.KindGone, core.KindConflict:
		s.renderTrayForm(w, r, http.StatusGone, trayFormPageData{Outcome: "gone", Message: core.ErrorMessage(err)})
	default:
		s.log.ErrorContext(r.Context(), "tray ticket form failed", "err", err)
		s.renderTrayForm(w, r, http.StatusServiceUnavailable, trayFormPageData{Outcome: "retry", Message: "Something went wrong on our side. Try again in a few minutes, or call your IT help desk."})
	}
}
