package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	_ "image/gif" // DecodeConfig checks uploaded logos
	_ "image/jpeg"
	_ "image/png"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerAdminBrandingRoutes(r *mux.Router) {
	r.HandleFunc("/branding", s.handleAdminGetBranding).Methods(http.MethodGet)
	r.HandleFunc("/branding", s.handleAdminPutBranding).Methods(http.MethodPut)
	r.HandleFunc("/branding/logo", s.handleAdminPutLogo).Methods(http.MethodPut)
	r.HandleFunc("/branding/logo", s.handleAdminDeleteLogo).Methods(http.MethodDelete)
	r.HandleFunc("/messages", s.handleAdminListMessages).Methods(http.MethodGet)
	r.HandleFunc("/messages/{name}", s.handleAdminPutMessage).Methods(http.MethodPut)
	r.HandleFunc("/messages/{name}", s.handleAdminDeleteMessage).Methods(http.MethodDelete)
	r.HandleFunc("/messages/{name}/preview", s.handleAdminPreviewMessage).Methods(http.MethodPost)
}

// brandingIn is the editable text of a tenant's branding; the logo and
// message templates have their own endpoints.
type brandingIn struct {
	SenderName   string `json:"sender_name"`
	PrimaryColor string `json:"primary_color"`
	AccentColor  string `json:"accent_color"`
	GradientFrom string `json:"gradient_from"`
	GradientTo   string `json:"gradient_to"`
	SupportPhone string `json:"support_phone"`
	TimeZone     string `json:"time_zone"` // IANA name; "" is UTC
}

type brandingOut struct {
	brandingIn
	TenantName string `json:"tenant_name"`
	Logo       string `json:"logo"` // data: URI, "" for none
}

func brandingJSON(t core.Tenant) brandingOut {
	b := t.Branding
	return brandingOut{TenantName: t.Name, Logo: b.LogoDataURI, brandingIn: brandingIn{
		SenderName: b.SenderName, PrimaryColor: b.PrimaryColor, AccentColor: b.AccentColor,
		GradientFrom: b.GradientFrom, GradientTo: b.GradientTo, SupportPhone: b.SupportPhone, TimeZone: b.TimeZone}}
}

// signedInTenant reads the signed-in technician's tenant.
func (s *Server) signedInTenant(r *http.Request) (core.Tenant, error) {
	return s.engine.Tenant(r.Context(), techFrom(r).TenantID)
}

// changeBranding applies ch to the signed-in technician's tenant
// (core.Engine.ChangeBranding), as that technician.
func (s *Server) changeBranding(r *http.Request, ch core.BrandingChange) (core.Tenant, error) {
	tech := techFrom(r)
	return s.engine.ChangeBranding(r.Context(), tech.TenantID, "tech:"+tech.ID, ch)
}

// handleAdminGetBranding handles "GET /api/v1/admin/branding".
func (s *Server) handleAdminGetBranding(w http.ResponseWriter, r *http.Request) {
	t, err := s.signedInTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, brandingJSON(t))
}

var phoneChars = regexp.MustCompile(`^[0-9+()./ -]*$`)

// check validates branding text and trims it.
func (b *brandingIn) check() error {
	b.SenderName = strings.TrimSpace(b.SenderName)
	b.SupportPhone = strings.TrimSpace(b.SupportPhone)
	if err := checkText("sender name", b.SenderName, 60); err != nil {
		return err
	}
	for _, c := range []struct{ name, v string }{
		{"primary colour", b.PrimaryColor}, {"accent colour", b.AccentColor},
		{"gradient start colour", b.GradientFrom}, {"gradient end colour", b.GradientTo},
	} {
		if c.v != "" && !hexColour.MatchString(c.v) {
			return core.Errorf(core.KindInvalid, "%s must be a hex colour like #1f4e8c, or empty for the default", c.name)
		}
	}
	if (b.GradientFrom == "") != (b.GradientTo == "") {
		return core.Errorf(core.KindInvalid, "set both gradient colours, or neither to use the primary and accent colours")
	}
	if len(b.SupportPhone) > 30 || !phoneChars.MatchString(b.SupportPhone) ||
		(b.SupportPhone != "" && !strings.ContainsAny(b.SupportPhone, "0123456789")) {
		return core.Errorf(core.KindInvalid, "support phone must be a phone number of at most 30 characters (digits, spaces, + ( ) - . /)")
	}
	b.TimeZone = strings.TrimSpace(b.TimeZone)
	if len(b.TimeZone) > 64 {
		return core.Errorf(core.KindInvalid, "time zone must be an IANA name such as Europe/Berlin, at most 64 characters")
	}
	if _, err := core.LoadTimeZone(b.TimeZone); err != nil {
		return err
	}
	return nil
}

// handleAdminPutBranding handles "PUT /api/v1/admin/branding": sender name,
// colours and support phone.
func (s *Server) handleAdminPutBranding(w http.ResponseWriter, r *http.Request) {
	var in brandingIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := in.check(); err != nil {
		s.writeError(w, r, err)
		return
	}
	detail := map[string]string{"sender_name": in.SenderName, "primary_color": in.PrimaryColor, "accent_color": in.AccentColor,
		"gradient_from": in.GradientFrom, "gradient_to": in.GradientTo, "support_phone": in.SupportPhone,
		"time_zone": in.TimeZone}
	t, err := s.changeBranding(r, core.BrandingChange{Action: core.AuditBrandingUpdated, Detail: detail, Apply: func(b *core.Branding) error {
		b.SenderName, b.PrimaryColor, b.AccentColor = in.SenderName, in.PrimaryColor, in.AccentColor
		b.GradientFrom, b.GradientTo, b.SupportPhone, b.TimeZone = in.GradientFrom, in.GradientTo, in.SupportPhone, in.TimeZone
		return nil
	}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, brandingJSON(t))
}

// maxLogoBytes bounds an uploaded logo; it is stored as a data: URI on the
// tenant row and sent with every link page.
const (
	maxLogoBytes = 256 << 10
	maxLogoSide  = 4096
)

// logoTypes are the image types a logo may have, by sniffed content. SVG is
// not one: an SVG is a document that can carry scripts.
var logoTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// handleAdminPutLogo handles "PUT /api/v1/admin/branding/logo": the body is
// the image file itself (PNG, JPEG, GIF or WebP, at most 256 KiB).
func (s *Server) handleAdminPutLogo(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "image/svg+xml" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "SVG logos are not accepted because an SVG can carry scripts; upload a PNG, JPEG, GIF or WebP image"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLogoBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = core.Errorf(core.KindInvalid, "the logo must be at most 256 KiB; this file is larger")
		}
		s.writeError(w, r, err)
		return
	}
	typ, err := checkLogo(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	uri := "data:" + typ + ";base64," + base64.StdEncoding.EncodeToString(body)
	detail := map[string]string{"type": typ, "bytes": strconv.Itoa(len(body))}
	t, err := s.changeBranding(r, core.BrandingChange{Action: core.AuditBrandingLogoUpdated, Detail: detail, Apply: func(b *core.Branding) error {
		b.LogoDataURI = uri
		return nil
	}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, brandingJSON(t))
}

// checkLogo returns the MIME type of an uploaded logo, judged by its
// content rather than by what the browser claims.
func checkLogo(b []byte) (string, error) {
	if len(b) == 0 {
		return "", core.Errorf(core.KindInvalid, "the upload is empty; choose an image file")
	}
	typ := http.DetectContentType(b)
	if !logoTypes[typ] {
		return "", core.Errorf(core.KindInvalid, "the logo must be a PNG, JPEG, GIF or WebP image (SVG is not accepted); this file looks like %s", strings.SplitN(typ, ";", 2)[0])
	}
	if typ == "image/webp" {
		// The standard library has no WebP decoder; check the RIFF chunk
		// header that DetectContentType did not look at.
		if len(b) < 30 || !slices.Contains([]string{"VP8 ", "VP8L", "VP8X"}, string(b[12:16])) {
			return "", core.Errorf(core.KindInvalid, "the WebP image is damaged or incomplete")
		}
		return typ, nil
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", core.Errorf(core.KindInvalid, "the image is damaged or incomplete")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxLogoSide || cfg.Height > maxLogoSide {
		return "", core.Errorf(core.KindInvalid, "the logo must be at most %d×%d pixels", maxLogoSide, maxLogoSide)
	}
	return typ, nil
}

// handleAdminDeleteLogo handles "DELETE /api/v1/admin/branding/logo".
func (s *Server) handleAdminDeleteLogo(w http.ResponseWriter, r *http.Request) {
	t, err := s.changeBranding(r, core.BrandingChange{Action: core.AuditBrandingLogoRemoved, Apply: func(b *core.Branding) error {
		if b.LogoDataURI == "" {
			return core.Errorf(core.KindNotFound, "there is no logo to remove")
		}
		b.LogoDataURI = ""
		return nil
	}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, brandingJSON(t))
}

// messageOut is one message in the template editor.
type messageOut struct {
	assets.MessageInfo
	Custom *core.MessageTemplate `json:"custom"` // the tenant's own template; null means the default
}

// handleAdminListMessages handles "GET /api/v1/admin/messages": every
// message with its built-in template and the tenant's own, if any.
func (s *Server) handleAdminListMessages(w http.ResponseWriter, r *http.Request) {
	t, err := s.signedInTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cat, err := assets.MessageCatalog()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]messageOut, 0, len(cat))
	for _, info := range cat {
		m := messageOut{MessageInfo: info}
		if c, ok := t.Branding.Messages[info.Name]; ok {
			m.Custom = &c
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// messageName reads {name} and refuses names that are not messages.
func messageName(r *http.Request) (string, error) {
	name := pathVar(r, "name")
	if !assets.IsMessage(name) {
		return "", core.Errorf(core.KindNotFound, "unknown message %q (want one of %s)", name,
			strings.Join(append(slices.Clone(assets.MessageNames), assets.NoticeNames...), ", "))
	}
	return name, nil
}

type messageIn struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// handleAdminPutMessage handles "PUT /api/v1/admin/messages/{name}": the
// tenant's own template for a message, checked before it is stored.
func (s *Server) handleAdminPutMessage(w http.ResponseWriter, r *http.Request) {
	name, err := messageName(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in messageIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	tmpl := core.MessageTemplate{Subject: strings.TrimSpace(in.Subject), Body: in.Body}
	if err := assets.CheckMessageTemplate(name, tmpl); err != nil {
		s.writeError(w, r, err)
		return
	}
	_, err = s.changeBranding(r, core.BrandingChange{Action: core.AuditMessageTemplateUpdated, Subject: name, Apply: func(b *core.Branding) error {
		m := maps.Clone(b.Messages)
		if m == nil {
			m = map[string]core.MessageTemplate{}
		}
		m[name] = tmpl
		b.Messages = m
		return nil
	}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "custom": tmpl})
}

// handleAdminDeleteMessage handles "DELETE /api/v1/admin/messages/{name}":
// back to the built-in template.
func (s *Server) handleAdminDeleteMessage(w http.ResponseWriter, r *http.Request) {
	name, err := messageName(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, err = s.changeBranding(r, core.BrandingChange{Action: core.AuditMessageTemplateReset, Subject: name, Apply: func(b *core.Branding) error {
		if _, ok := b.Messages[name]; !ok {
			return core.Errorf(core.KindNotFound, "this message already uses the default template")
		}
		m := maps.Clone(b.Messages)
		delete(m, name)
		b.Messages = m
		return nil
	}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "custom": nil})
}

type previewOut struct {
	Subject string   `json:"subject,omitempty"`
	Text    string   `json:"text"`
	Say     []string `json:"say,omitempty"`
	Chars   int      `json:"chars"`
	// Segments is the SMS count the text costs (GSM-7: 160 characters
	// alone, 153 each when split); 0 for other channels.
	Segments int `json:"segments,omitempty"`
	// Later is an SMS as later texts to the same number read it, when it
	// differs from Text, the first one (core.CarrierWording adds the
	// opt-out notice to the first text only).
	Later string `json:"later,omitempty"`
}

// handleAdminPreviewMessage handles "POST /api/v1/admin/messages/{name}/preview":
// the message rendered with sample data and the tenant's name and branding,
// from the posted template, or from the built-in one when the body is
// empty. It changes nothing.
func (s *Server) handleAdminPreviewMessage(w http.ResponseWriter, r *http.Request) {
	name, err := messageName(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in messageIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.signedInTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d := assets.SampleMessageData(name, t.DisplayName(), t.Branding)
	rd, err := assets.PreviewMessage(name, core.MessageTemplate{Subject: strings.TrimSpace(in.Subject), Body: in.Body}, d)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := previewOut{Subject: rd.Subject, Text: rd.Text, Say: rd.Say}
	if assets.MessageChannel(name) == assets.ChannelSMS {
		// What the recipient gets: the carrier wording the engine adds
		// to every text, the opt-out notice on the first to a number in
		// a year (Later: the ones after it).
		out.Text = core.CarrierWording(rd.Text, t.DisplayName(), true)
		if later := core.CarrierWording(rd.Text, t.DisplayName(), false); later != out.Text {
			out.Later = later
		}
		out.Segments = smsSegments(out.Text)
	}
	out.Chars = len([]rune(out.Text))
	writeJSON(w, http.StatusOK, out)
}

// smsSegments counts the GSM-7 segments of text; extension-table
// characters take two septets.
func smsSegments(text string) int {
	n := 0
	for _, r := range text {
		n++
		if strings.ContainsRune("^{}\\[~]|€\f", r) {
			n++
		}
	}
	if n <= 160 {
		return 1
	}
	return (n + 152) / 153
}
