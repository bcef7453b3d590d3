package web

import (
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerWebhookRoutes(r *mux.Router) {
	r.HandleFunc("/webhooks/twilio/status/{tenant}", s.handleTwilioStatus).Methods(http.MethodPost)
	r.HandleFunc("/webhooks/twilio/sms", s.handleTwilioSMS).Methods(http.MethodPost)
	s.registerPSAWebhookRoutes(r)
}

// handleTwilioStatus handles "POST /webhooks/twilio/status/{tenant}":
// Twilio's message and call status callbacks (channels.md §1.4). The
// signature is checked before anything else (security.md §7); a bad one
// gets 403, a log line with path and source, and nothing more.
func (s *Server) handleTwilioStatus(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	// The tenant's own Twilio account signs its callbacks with its own
	// token; a tenant on the server's account (or an unknown slug) is
	// checked with the server's.
	validator, want := s.cfg.TwilioStatus, s.cfg.TwilioAccountSID
	if t, err := s.engine.TenantBySlug(r.Context(), pathVar(r, "tenant")); err == nil {
		if c, err := s.engine.ChannelSettings(r.Context(), t.ID); err == nil && c.Twilio.Configured() {
			validator, want = s.smsValidator(c.Twilio)
		}
	}
	if validator == nil {
		http.NotFound(w, r)
		return
	}
	if !validator.Validate(r, body) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		s.log.WarnContext(r.Context(), "twilio webhook: bad signature", "path", r.URL.Path, "source_ip", ip)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	if want != "" && form.Get("AccountSid") != want {
		// Signed with our token but naming another account: refuse, as
		// security.md §7 asks, rather than act on another account's message.
		s.log.WarnContext(r.Context(), "twilio webhook: account mismatch", "path", r.URL.Path)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ref, status := form.Get("MessageSid"), form.Get("MessageStatus")
	if ref == "" {
		ref, status = form.Get("CallSid"), form.Get("CallStatus")
	}
	if ref == "" || status == "" {
		http.Error(w, "missing MessageSid/CallSid or status", http.StatusBadRequest)
		return
	}
	tenant, err := s.engine.TenantBySlug(r.Context(), pathVar(r, "tenant"))
	if err == nil {
		err = s.engine.RecordDelivery(r.Context(), tenant.ID, ref, status, form.Get("ErrorCode"))
	}
	switch core.ErrorKind(err) {
	case core.KindNotFound, core.KindInvalid:
		// Signed by Twilio but not ours to act on (an old message, a status
		// we do not track): acknowledge so Twilio does not retry.
		s.log.InfoContext(r.Context(), "twilio status ignored", "provider_ref", ref, "reason", core.ErrorMessage(err))
	case core.KindInternal:
		if err != nil {
			s.classify(r, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
