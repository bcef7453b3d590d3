package web

import (
	"encoding/xml"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/countersign/countersign/core"
)

// handleTwilioSMS handles "POST /webhooks/twilio/sms": texts to a
// tenant's verification number (channels.md §1.5). The number in To picks
// the tenant, and the signature is checked with that tenant's Twilio auth
// token (or the server's, for a number on the server's account) over the
// configured public URL — never one rebuilt from Host or X-Forwarded-*
// (channels.md §1.6) — before anything is recorded. A bad signature gets 403
// and a log line with path and source; an unknown number, 404. The answer
// is TwiML: at most one reply to the sender, or an empty <Response/>.
func (s *Server) handleTwilioSMS(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	// Parsing has no side effect; the tenant (and so the key) comes from To.
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	tenant, tw, err := s.engine.SMSNumberOwner(r.Context(), form.Get("To"))
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			s.log.WarnContext(r.Context(), "twilio sms webhook: no tenant has the number", "path", r.URL.Path, "source_ip", ip)
			http.NotFound(w, r)
			return
		}
		s.classify(r, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	validator, account := s.smsValidator(tw)
	if validator == nil || !validator.Validate(r, body) {
		s.log.WarnContext(r.Context(), "twilio sms webhook: bad signature", "path", r.URL.Path, "source_ip", ip, "tenant_id", tenant.ID)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if account != "" && form.Get("AccountSid") != account {
		// Signed, but for another account than the number's (security.md §7).
		s.log.WarnContext(r.Context(), "twilio sms webhook: account mismatch", "path", r.URL.Path, "tenant_id", tenant.ID)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	msg := core.InboundSMS{MessageSID: form.Get("MessageSid"), AccountSID: form.Get("AccountSid"),
		From: form.Get("From"), To: form.Get("To"), Body: form.Get("Body")}
	reply, err := s.engine.ReceiveSMS(r.Context(), tenant.ID, msg)
	switch core.ErrorKind(err) {
	case core.KindInvalid:
		s.log.InfoContext(r.Context(), "twilio sms webhook: refused", "tenant_id", tenant.ID, "reason", core.ErrorMessage(err))
		http.Error(w, core.ErrorMessage(err), http.StatusBadRequest)
		return
	case core.KindInternal:
		if err != nil {
			s.classify(r, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	s.writeTwiML(w, r, reply)
}

// smsValidator returns the signature check for a tenant number's Twilio
// account and the AccountSid its webhooks must name ("" for no check).
// Nil means no account can have signed it (no own account, and the server
// shares none).
func (s *Server) smsValidator(tw core.TwilioSettings) (StatusWebhook, string) {
	if tw.Configured() {
		if s.cfg.TwilioWebhookValidator == nil || tw.WebhookToken() == "" {
			return nil, ""
		}
		return s.cfg.TwilioWebhookValidator(tw.WebhookToken()), tw.AccountSID
	}
	if !s.engine.SharedChannels() || s.cfg.TwilioStatus == nil {
		return nil, ""
	}
	return s.cfg.TwilioStatus, s.cfg.TwilioAccountSID
}

// writeTwiML answers a messaging webhook: one <Message> with reply, or an
// empty <Response/> (an empty HTTP body would log Twilio error 11200).
// The document is the one twiml.Messages builds (channels.md §1.5),
// written here so that core/web needs no Twilio library.
func (s *Server) writeTwiML(w http.ResponseWriter, r *http.Request, reply string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	if reply == "" {
		b.WriteString("<Response/>")
	} else {
		b.WriteString("<Response><Message>")
		if err := xml.EscapeText(&b, []byte(reply)); err != nil {
			s.classify(r, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		b.WriteString("</Message></Response>")
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}
