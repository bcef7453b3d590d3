package web

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The minimal console: sign-in, contacts with one-click send, and the dev
// outbox. Pages are server-rendered shells; plain JavaScript calls the API.

func (s *Server) registerConsoleRoutes(r *mux.Router) {
	r.HandleFunc("/", s.handleLoginPage).Methods(http.MethodGet)
	r.HandleFunc("/app", s.handleConsolePage).Methods(http.MethodGet)
	r.HandleFunc("/app/outbox", s.handleOutboxPage).Methods(http.MethodGet)
	r.HandleFunc("/brand/{tenant}.css", s.handleBrandCSS).Methods(http.MethodGet)
}

type consolePage struct {
	Dev    bool
	Tenant string
}

// handleLoginPage handles "GET /": the sign-in page, or the console when
// already signed in.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.sessionTechnician(r); err == nil {
		http.Redirect(w, r, "/app", http.StatusSeeOther)
		return
	}
	s.renderHTML(w, r, http.StatusOK, "login.html", consolePage{Dev: s.engine.DevDelivery(), Tenant: r.URL.Query().Get("tenant")})
}

// handleConsolePage handles "GET /app".
func (s *Server) handleConsolePage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.sessionTechnician(r); err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderHTML(w, r, http.StatusOK, "console.html", consolePage{Dev: s.engine.DevDelivery()})
}

// handleOutboxPage handles "GET /app/outbox" (dev delivery mode).
func (s *Server) handleOutboxPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.sessionTechnician(r); err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderHTML(w, r, http.StatusOK, "outbox.html", consolePage{Dev: s.engine.DevDelivery()})
}

var hexColour = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// handleBrandCSS handles "GET /brand/{tenant}.css": the tenant's colours as
// CSS variables. A stylesheet keeps the strict CSP (no inline styles), and
// only validated hex colours reach it.
func (s *Server) handleBrandCSS(w http.ResponseWriter, r *http.Request) {
	var t core.Tenant
	err := s.store.View(r.Context(), func(tx core.Tx) error {
		var err error
		t, err = tx.TenantBySlug(r.Context(), pathVar(r, "tenant"))
		return err
	})
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	if err != nil {
		_, _ = w.Write([]byte("/* unknown tenant */\n"))
		return
	}
	var b strings.Builder
	b.WriteString(":root {")
	if hexColour.MatchString(t.Branding.PrimaryColor) {
		b.WriteString(" --brand: " + t.Branding.PrimaryColor + ";")
	}
	if hexColour.MatchString(t.Branding.AccentColor) {
		b.WriteString(" --accent: " + t.Branding.AccentColor + ";")
	}
	b.WriteString(" }\n")
	_, _ = w.Write([]byte(b.String()))
}
