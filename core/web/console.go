package web

import (
	"context"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

// The minimal console: sign-in, contacts with one-click send, and the dev
// outbox. Pages are server-rendered shells; plain JavaScript calls the API.

func (s *Server) registerConsoleRoutes(r *mux.Router) {
	r.HandleFunc("/", s.handleLoginPage).Methods(http.MethodGet)
	r.HandleFunc("/app", s.handleConsolePage).Methods(http.MethodGet)
	r.HandleFunc("/app/outbox", s.handleOutboxPage).Methods(http.MethodGet)
	r.HandleFunc("/brand/{tenant}.css", s.handleBrandCSS).Methods(http.MethodGet)
	s.registerAdminPageRoutes(r)
	s.registerTechVerifyPageRoutes(r)
	s.registerOptInPageRoutes(r)
}

type consolePage struct {
	Dev      bool
	Tenant   string
	PodNonce string // the pod's nonce when the sign-in page is its pop-out
	// Admin and Active feed the shared nav (assets/templates/nav.html):
	// whether to show the admin links, and which link is the current page.
	Admin  bool
	Active string
	// Issues are the misconfigured channels the nav's banner shows.
	Issues []issueOut
	// TimeZone is the tenant's (core.Branding.TimeZone), for the
	// scripts' times (CSTime in api.js); "" is UTC.
	TimeZone string
	// VerifyPageURL is the tenant's "Verify my technician" page, shown on
	// the Tech verify page for the MSP to give its users.
	VerifyPageURL string
}

// tenantZone is the time zone of a tenant's pages; "" (UTC) when the
// tenant cannot be read (the page still works, in UTC).
func (s *Server) tenantZone(ctx context.Context, tenantID string) string {
	t, err := s.engine.Tenant(ctx, tenantID)
	if err != nil {
		return ""
	}
	return t.Branding.TimeZone
}

// handleLoginPage handles "GET /": the sign-in page, or the console when
// already signed in.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.consoleTechnician(r); err == nil {
		http.Redirect(w, r, "/app", http.StatusSeeOther)
		return
	}
	s.renderHTML(w, r, http.StatusOK, "login.html", consolePage{Dev: s.engine.DevDelivery(), Tenant: r.URL.Query().Get("tenant")})
}

// handleConsolePage handles "GET /app".
func (s *Server) handleConsolePage(w http.ResponseWriter, r *http.Request) {
	tech, err := s.consoleTechnician(r)
	if err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderHTML(w, r, http.StatusOK, "console.html", consolePage{Dev: s.engine.DevDelivery(), Admin: tech.Role.IsAdmin(), Active: "contacts",
		Issues: s.channelIssues(r.Context(), tech), TimeZone: s.tenantZone(r.Context(), tech.TenantID)})
}

// handleOutboxPage handles "GET /app/outbox" (dev delivery mode).
func (s *Server) handleOutboxPage(w http.ResponseWriter, r *http.Request) {
	tech, err := s.consoleTechnician(r)
	if err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderHTML(w, r, http.StatusOK, "outbox.html", consolePage{Dev: s.engine.DevDelivery(), Admin: tech.Role.IsAdmin(), Active: "outbox",
		Issues: s.channelIssues(r.Context(), tech), TimeZone: s.tenantZone(r.Context(), tech.TenantID)})
}

var hexColour = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// handleBrandCSS handles "GET /brand/{tenant}.css": the tenant's colours as
// CSS variables. A stylesheet keeps the strict CSP (no inline styles), and
// only validated hex colours reach it. --brand-fg is white or near-black,
// whichever reads better on the primary colour, so a light brand colour
// still gives buttons readable text. The gradient of the end-user pages
// defaults to primary → accent.
func (s *Server) handleBrandCSS(w http.ResponseWriter, r *http.Request) {
	t, err := s.engine.TenantBySlug(r.Context(), pathVar(r, "tenant"))
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	if err != nil {
		_, _ = w.Write([]byte("/* unknown tenant */\n"))
		return
	}
	br := t.Branding
	valid := func(c string) string {
		if hexColour.MatchString(c) {
			return c
		}
		return ""
	}
	primary, accent := valid(br.PrimaryColor), valid(br.AccentColor)
	from, to := valid(br.GradientFrom), valid(br.GradientTo)
	if from == "" {
		from = primary
	}
	if to == "" {
		to = accent
	}
	var b strings.Builder
	b.WriteString(":root {")
	for _, v := range []struct{ name, value string }{
		{"--brand", primary}, {"--brand-fg", readableOn(primary)}, {"--accent", accent},
		{"--grad-from", from}, {"--grad-to", to},
	} {
		if v.value != "" {
			b.WriteString(" " + v.name + ": " + v.value + ";")
		}
	}
	b.WriteString(" }\n")
	_, _ = w.Write([]byte(b.String()))
}

// readableOn returns the text colour with the better contrast on the hex
// colour bg (WCAG 2.2 relative luminance), or "" when bg is "".
func readableOn(bg string) string {
	if bg == "" {
		return ""
	}
	l := luminance(bg)
	// Contrast with white is 1.05/(l+.05); with #111111 (luminance ≈ .0056)
	// it is (l+.05)/.0556. Pick the larger.
	if 1.05/(l+0.05) >= (l+0.05)/0.0556 {
		return "#ffffff"
	}
	return "#111111"
}

// luminance returns the relative luminance of a validated "#rrggbb" colour.
func luminance(hex string) float64 {
	v, _ := strconv.ParseUint(hex[1:], 16, 32)
	lin := func(c uint64) float64 {
		x := float64(c) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
}
