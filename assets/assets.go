// Package assets embeds everything Countersign shows people: page templates
// (console, end-user link pages), message templates (SMS, voice, email), and
// static CSS and JavaScript. Nothing here needs a build step.
//
// Templates are parsed once at startup; a parse error stops the server, and
// a test fails when a template file is not parsed or a page name that
// handlers use is missing.
package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/*.html static/*
var files embed.FS

// Page names handlers render; PagesTest checks each exists.
const (
	PageLogin   = "login.html"
	PageConsole = "console.html"
	PageOutbox  = "outbox.html"
	// PageTechVerify is the tech-verify inbox (#verify texts).
	PageTechVerify = "techverify.html"
	PageLink       = "link.html"
	PagePod        = "pod.html"

	PageAdminPolicies    = "admin_policies.html"
	PageAdminBranding    = "admin_branding.html"
	PageAdminTechnicians = "admin_technicians.html"
	PageAdminAudit       = "admin_audit.html"
	PageAdminForbidden   = "admin_forbidden.html"

	PageAdminIntegrations = "admin_integrations.html"
	PageAdminChannels     = "admin_channels.html"
	PageAdminDirectory    = "admin_directory.html"
	PageAdminDuo          = "admin_duo.html"
	PageAdminMicrosoft    = "admin_microsoft.html"
	// PageAdminMicrosoftConsent is where Microsoft's admin consent returns.
	PageAdminMicrosoftConsent = "admin_microsoft_consent.html"
	PageAdminAgents           = "admin_agents.html"
	PageAdminNotify           = "admin_notify.html"
	PageWelcome               = "welcome.html"
	PageEnrolment             = "enrolment.html"
	PageSelfServe             = "selfserve.html"
	PageTrayForm              = "trayform.html"
	// PageVerifyTechnician is the end user's "Verify my technician" page.
	PageVerifyTechnician = "verifytechnician.html"
	PageOptIn            = "optin.html"     // the bulk SMS opt-in send
	PageOptInForm        = "optinform.html" // the end user's opt-in page
)

// PageNames lists every page template handlers use.
var PageNames = []string{PageLogin, PageConsole, PageOutbox, PageTechVerify, PageLink, PagePod,
	PageAdminPolicies, PageAdminBranding, PageAdminTechnicians, PageAdminAudit, PageAdminForbidden, PageAdminIntegrations, PageAdminChannels,
	PageAdminDirectory, PageAdminDuo, PageAdminMicrosoft, PageAdminMicrosoftConsent, PageAdminAgents, PageAdminNotify, PageWelcome, PageEnrolment, PageSelfServe, PageTrayForm, PageVerifyTechnician,
	PageOptIn, PageOptInForm}

// StaticFS returns the static files, without the embed prefix.
func StaticFS() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// TemplatesFS returns the page templates, without the embed prefix.
func TemplatesFS() fs.FS {
	sub, err := fs.Sub(files, "templates")
	if err != nil {
		panic(err)
	}
	return sub
}

// Fingerprints maps each static file to a short hash of its contents, for
// cache-busting URLs computed once at startup.
func Fingerprints(static fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return out, err
}

// Pages parses every page template in tmpl (TemplatesFS, or os.DirFS for
// live editing) with the helper functions the pages use.
func Pages(tmpl, static fs.FS) (*template.Template, error) {
	prints, err := Fingerprints(static)
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		// static returns the fingerprinted URL of a static file.
		"static": func(name string) string {
			return "/static/" + name + "?v=" + prints[path.Clean(name)]
		},
		"upper": strings.ToUpper,
	}
	return template.New("").Funcs(funcs).ParseFS(tmpl, "*.html")
}

// StaticHandler serves static files; fingerprinted requests are cached for
// a year, since a change in content changes the URL.
func StaticHandler(static fs.FS) http.Handler {
	fsrv := http.FileServer(http.FS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		fsrv.ServeHTTP(w, r)
	})
}
