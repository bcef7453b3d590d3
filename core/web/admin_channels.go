package web

import (
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// Settings → Channels: a tenant's own Twilio account and verification
// number, its own sender e-mail, the SMS and voice country allow-lists and
// the HELP text (core/channels.go). Secrets go in and never come out: the
// page is told only whether one is stored, and a secret left empty on save
// keeps the stored one.

func (s *Server) registerAdminChannelRoutes(r *mux.Router) {
	r.HandleFunc("/channels", s.handleAdminGetChannels).Methods(http.MethodGet)
	r.HandleFunc("/channels", s.handleAdminPutChannels).Methods(http.MethodPut)
	r.HandleFunc("/channels/check", s.handleAdminCheckChannels).Methods(http.MethodPost)
}

type twilioChannelIO struct {
	Shared              bool   `json:"shared"`
	AccountSID          string `json:"account_sid"`
	APIKeySID           string `json:"api_key_sid"`
	Number              string `json:"number"`
	MessagingServiceSID string `json:"messaging_service_sid"`
	// In only: "" keeps the stored value.
	Secret    string `json:"secret,omitempty"`
	AuthToken string `json:"auth_token,omitempty"`
	// Out only.
	HasSecret    bool `json:"has_secret"`
	HasAuthToken bool `json:"has_auth_token"`
}

type emailChannelIO struct {
	Shared   bool   `json:"shared"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	From     string `json:"from"`
	FromName string `json:"from_name"`
	TLS      string `json:"tls"`
	Password string `json:"password,omitempty"` // in only
	HasPass  bool   `json:"has_password"`       // out only
}

type channelsIO struct {
	Twilio         twilioChannelIO `json:"twilio"`
	Email          emailChannelIO  `json:"email"`
	SMSCountries   []string        `json:"sms_countries"`
	VoiceCountries []string        `json:"voice_countries"`
	HelpText       string          `json:"help_text"`
	// Out only.
	SharedAllowed bool      `json:"shared_allowed"`
	TenantCountry string    `json:"tenant_country"`
	WebhookURL    string    `json:"webhook_url"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
}

func (s *Server) channelsJSON(t core.Tenant, c core.ChannelSettings) channelsIO {
	tw, m := c.Twilio, c.Email
	return channelsIO{
		Twilio: twilioChannelIO{Shared: tw.Shared, AccountSID: tw.AccountSID, APIKeySID: tw.APIKeySID, Number: tw.Number,
			MessagingServiceSID: tw.MessagingServiceSID, HasSecret: tw.Secret != "", HasAuthToken: tw.AuthToken != ""},
		Email: emailChannelIO{Shared: m.Shared, Host: m.Host, Port: m.Port, Username: m.Username, From: m.From, FromName: m.FromName,
			TLS: m.TLS, HasPass: m.Password != ""},
		SMSCountries: nonNil(c.SMSCountries), VoiceCountries: nonNil(c.VoiceCountries), HelpText: c.HelpText,
		SharedAllowed: s.engine.SharedChannels(), TenantCountry: t.Region(),
		WebhookURL: s.cfg.PublicURL + "/webhooks/twilio/sms", UpdatedAt: c.UpdatedAt,
	}
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// handleAdminGetChannels handles "GET /api/v1/admin/channels".
func (s *Server) handleAdminGetChannels(w http.ResponseWriter, r *http.Request) {
	t, err := s.signedInTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.engine.ChannelSettings(r.Context(), t.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.channelsJSON(t, c))
}

// handleAdminPutChannels handles "PUT /api/v1/admin/channels": the engine
// validates, seals, audits and calls the "channels fixed" hook.
func (s *Server) handleAdminPutChannels(w http.ResponseWriter, r *http.Request) {
	var in channelsIO
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	c := core.ChannelSettings{
		Twilio: core.TwilioSettings{Shared: in.Twilio.Shared, AccountSID: in.Twilio.AccountSID, APIKeySID: in.Twilio.APIKeySID,
			Secret: in.Twilio.Secret, AuthToken: in.Twilio.AuthToken, Number: in.Twilio.Number, MessagingServiceSID: in.Twilio.MessagingServiceSID},
		Email: core.EmailSettings{Shared: in.Email.Shared, Host: in.Email.Host, Port: in.Email.Port, Username: in.Email.Username,
			Password: in.Email.Password, From: in.Email.From, FromName: in.Email.FromName, TLS: in.Email.TLS},
		SMSCountries: in.SMSCountries, VoiceCountries: in.VoiceCountries, HelpText: in.HelpText,
	}
	saved, err := s.engine.PutChannelSettings(r.Context(), tech.TenantID, "tech:"+tech.ID, c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.signedInTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.channelsJSON(t, saved))
}

type checkResult struct {
	Configured bool   `json:"configured"` // the tenant has its own account for it
	OK         bool   `json:"ok"`
	Message    string `json:"message"`
}

// handleAdminCheckChannels handles "POST /api/v1/admin/channels/check":
// Twilio (fetch the account and the number) and SMTP (connect and sign
// in), live, with what to fix when one fails.
func (s *Server) handleAdminCheckChannels(w http.ResponseWriter, r *http.Request) {
	tid := techFrom(r).TenantID
	c, err := s.engine.ChannelSettings(r.Context(), tid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	twErr, mailErr, err := s.engine.CheckChannels(r.Context(), tid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res := func(configured, shared bool, what string, err error) checkResult {
		switch {
		case err != nil:
			msg := core.ErrorMessage(err)
			if msg == "" {
				msg = "the check failed; see the server log"
				s.log.ErrorContext(r.Context(), "channel check failed", "tenant_id", tid, "channel", what, "err", err)
			}
			return checkResult{Configured: configured, Message: msg}
		case configured:
			return checkResult{Configured: true, OK: true, Message: what + " works."}
		case shared:
			return checkResult{OK: true, Message: what + " uses the server's account."}
		}
		return checkResult{Message: what + " is not set up."}
	}
	writeJSON(w, http.StatusOK, map[string]checkResult{
		"twilio": res(c.Twilio.Configured(), c.Twilio.Shared || !c.Twilio.Configured() && s.engine.SharedChannels(), "Twilio", twErr),
		"email":  res(c.Email.Configured(), c.Email.Shared || !c.Email.Configured() && s.engine.SharedChannels(), "E-mail", mailErr),
	})
}
