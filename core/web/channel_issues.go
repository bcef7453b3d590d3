package web

import (
	"context"
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// Misconfigured channels (core.ChannelIssue): the banner every signed-in
// console page shows while one lasts — to admins what to fix and where,
// with the vendor's words; to other technicians whom to ask — and the API
// behind it (GET /api/v1/admin/channel-issues, POST …/retry).

func (s *Server) registerChannelIssueRoutes(r *mux.Router) {
	r.HandleFunc("/channel-issues", s.handleChannelIssues).Methods(http.MethodGet)
	r.HandleFunc("/channel-issues/retry", s.handleRetryChannel).Methods(http.MethodPost)
}

// channelSettingsURL is the console page where an admin fixes the message
// channel of tenantID, or "" when it is set in the server's configuration:
// SMS, voice and e-mail are fixed on Settings → Channels when the tenant
// sends through its own account (or the server lends none), and by the
// operator when the tenant is on the server's account. A PSA channel is
// fixed on the integrations page. Both pages' saves clear the issue
// (core.Engine.ClearChannelIssue) and send what waits.
func (s *Server) channelSettingsURL(ctx context.Context, tenantID, channel string) string {
	if id, ok := core.ChannelIntegration(channel); ok {
		return "/app/admin/integrations#" + id
	}
	c, err := s.engine.ChannelSettings(ctx, tenantID)
	if err != nil {
		s.log.ErrorContext(ctx, "read channel settings", "tenant_id", tenantID, "err", err)
		return ""
	}
	own := !s.engine.SharedChannels()
	switch channel {
	case core.ChannelSMS, core.ChannelVoice:
		if own || c.Twilio.Configured() {
			return "/app/admin/channels#twilio"
		}
	case core.ChannelEmail:
		if own || c.Email.Configured() {
			return "/app/admin/channels#email"
		}
	}
	return ""
}

// issueOut is a channel issue as the banner and the API show it.
type issueOut struct {
	Channel string `json:"channel"`
	// Title names the channel: "SMS (Twilio)", "PSA integration “Main
	// desk” (the plugin's display name)".
	Title string `json:"title"`
	// Message is what a technician who is not an admin reads.
	Message string `json:"message"`
	// Admin-only fields: what to fix, the vendor's code and words, since
	// when, how many messages wait, and where the settings are.
	Fix           string    `json:"fix,omitempty"`
	Code          string    `json:"code,omitempty"`
	VendorMessage string    `json:"vendor_message,omitempty"`
	Since         time.Time `json:"since,omitzero"`
	Waiting       int       `json:"waiting,omitempty"`
	SettingsURL   string    `json:"settings_url,omitempty"`
}

// channelIssues returns the tenant's issues for a technician; admins get
// the fields that say what to fix. An error reading them is logged and
// shows no banner: a page must not fail for want of one.
func (s *Server) channelIssues(ctx context.Context, tech core.Technician) []issueOut {
	issues, err := s.engine.ChannelIssues(ctx, tech.TenantID)
	if err != nil {
		s.log.ErrorContext(ctx, "read channel issues", "tenant_id", tech.TenantID, "err", err)
		return nil
	}
	out := make([]issueOut, 0, len(issues))
	for _, is := range issues {
		o := issueOut{Channel: is.Channel, Title: s.channelTitle(ctx, tech.TenantID, is.Channel), Message: core.ChannelMessage(is.Channel)}
		if tech.Role.IsAdmin() {
			o.Fix, o.Code, o.VendorMessage, o.Since, o.Waiting = is.Fix, is.Code, is.VendorMessage, is.Since, is.Waiting
			o.SettingsURL = s.channelSettingsURL(ctx, tech.TenantID, is.Channel)
		}
		out = append(out, o)
	}
	return out
}

// channelTitle names a channel for the banner.
func (s *Server) channelTitle(ctx context.Context, tenantID, channel string) string {
	switch channel {
	case core.ChannelSMS:
		return "SMS (Twilio)"
	case core.ChannelVoice:
		return "Voice calls (Twilio)"
	case core.ChannelEmail:
		return "Email (SMTP)"
	}
	id, _ := core.ChannelIntegration(channel)
	in, err := s.engine.Integration(ctx, tenantID, id)
	if err != nil {
		return "PSA integration " + id
	}
	kind := in.Kind
	if reg, err := s.psaRegistry(); err == nil {
		if d, err := reg.Get(in.Kind); err == nil {
			kind = d.Name
		}
	}
	return "PSA integration “" + in.Name + "” (" + kind + ")"
}

// handleChannelIssues handles "GET /api/v1/admin/channel-issues".
func (s *Server) handleChannelIssues(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"issues": s.channelIssues(r.Context(), techFrom(r))})
}

// handleRetryChannel handles "POST /api/v1/admin/channel-issues/retry"
// {"channel": …}: an admin says the channel was fixed outside Countersign
// (rights granted in the PSA, the sender verified at the mail provider).
// The issue ends, audited, and what waited is sent at once; if the vendor
// still refuses, the first message finds out and the banner is back.
func (s *Server) handleRetryChannel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Channel string `json:"channel"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !core.ValidChannel(req.Channel) || len(req.Channel) > 100 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "unknown channel %q", req.Channel))
		return
	}
	tech := techFrom(r)
	if err := s.engine.ClearChannelIssue(r.Context(), tech.TenantID, "tech:"+tech.ID, "retry asked by an admin", req.Channel); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"issues": s.channelIssues(r.Context(), tech)})
}
