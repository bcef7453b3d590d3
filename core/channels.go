package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Per-tenant channels (issue 10 item 4). Each MSP brings its own Twilio
// account (or subaccount) with its verification number, and its own sender
// e-mail. They are kept sealed in the store per tenant ([ChannelSettings]),
// and the outbox sends a tenant's messages through senders built from them
// by the [ChannelFactory] that cmd wires (core/twilio, core/smtp). The
// server's own senders (Config.Senders) are a fallback only when the
// operator allows it (Config.NoSharedChannels false) and the tenant chose
// it; otherwise a tenant without its own account gets a clear error.
//
// A per-tenant country allow-list for SMS and for voice (default: the
// tenant's own country) refuses sends elsewhere — SMS pumping and toll
// fraud target number ranges abroad (security.md §6) — with a clear error,
// audited as [AuditSendRefusedCountry].

// ChannelSettings is a tenant's delivery accounts and rules.
type ChannelSettings struct {
	Twilio TwilioSettings `json:"twilio"`
	Email  EmailSettings  `json:"email"`
	// SMSCountries and VoiceCountries are the ISO 3166 regions ("US",
	// "GB") texts and calls may go to; empty means the tenant's own
	// country only.
	SMSCountries   []string `json:"sms_countries,omitempty"`
	VoiceCountries []string `json:"voice_countries,omitempty"`
	// HelpText answers HELP; "" means a default naming the tenant.
	HelpText string `json:"help_text,omitempty"`
	// UpdatedAt is when the settings were last saved; zero for never.
	UpdatedAt time.Time `json:"-"`
}

// TwilioSettings is a tenant's Twilio account.
type TwilioSettings struct {
	// Shared sends through the server's Twilio account instead of the
	// tenant's own (only where the operator allows it). Number must then
	// be one of the server account's numbers.
	Shared     bool   `json:"shared,omitempty"`
	AccountSID string `json:"account_sid,omitempty"` // "AC…"
	// APIKeySID ("SK…") authenticates REST calls with Secret as its
	// secret; "" means Secret is the auth token.
	APIKeySID string `json:"api_key_sid,omitempty"`
	Secret    string `json:"secret,omitempty"`
	// AuthToken signs the account's webhooks (Twilio signs with it even
	// when REST calls use an API key); "" means Secret when APIKeySID is "".
	AuthToken string `json:"auth_token,omitempty"`
	// Number is the tenant's verification number, E.164: texts and calls
	// go out from it, and texts to it (#verify, STOP, …) are the tenant's.
	// A number belongs to one tenant.
	Number              string `json:"number,omitempty"`
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"` // "MG…"; "" sends from Number
}

// Configured reports whether the tenant has an account of its own.
func (t TwilioSettings) Configured() bool { return !t.Shared && t.AccountSID != "" }

// WebhookToken returns the auth token Twilio signs the account's webhooks with.
func (t TwilioSettings) WebhookToken() string {
	if t.AuthToken != "" {
		return t.AuthToken
	}
	if t.APIKeySID == "" {
		return t.Secret
	}
	return ""
}

// EmailSettings is a tenant's own sender e-mail over SMTP.
type EmailSettings struct {
	// Shared sends through the server's SMTP settings (only where the
	// operator allows it).
	Shared   bool   `json:"shared,omitempty"`
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"` // 0 means 587
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	From     string `json:"from,omitempty"`      // the sender address
	FromName string `json:"from_name,omitempty"` // "" means the tenant's display name
	TLS      string `json:"tls,omitempty"`       // "starttls" (""), "tls" or "none"
}

// Configured reports whether the tenant has a mail server of its own.
func (m EmailSettings) Configured() bool { return !m.Shared && m.Host != "" }

// ChannelsRow is a tenant's channel settings as the store keeps them:
// sealed, with the verification number in clear for routing.
type ChannelsRow struct {
	TenantID  string
	SMSNumber string // "" for none
	Sealed    []byte
	UpdatedAt time.Time
}

// ChannelFactory builds senders from a tenant's own accounts and checks
// them live. cmd implements it with core/twilio and core/smtp. Building a
// sender has no side effects (no network); the checks call the provider.
type ChannelFactory interface {
	SMS(t TwilioSettings) (Sender, error)
	Voice(t TwilioSettings) (Sender, error)
	Email(m EmailSettings) (Sender, error)
	// CheckTwilio fetches the account and the number from Twilio: wrong
	// credentials, a suspended account or a number not on the account are
	// errors whose message says what to fix.
	CheckTwilio(ctx context.Context, t TwilioSettings) error
	// CheckEmail connects to the mail server and authenticates.
	CheckEmail(ctx context.Context, m EmailSettings) error
}

// ChannelsFixedHook is called after a tenant's channel settings are saved,
// so that work held back because a channel was misconfigured resumes (issue
// 10 item 3). kinds are the outbox kinds whose settings changed.
type ChannelsFixedHook func(ctx context.Context, tenantID string, kinds []OutboxKind)

// Audit actions of channel settings and refusals.
const (
	AuditChannelsSaved = "channels.saved"
	// AuditSendRefusedCountry: an SMS or call to a country outside the
	// tenant's allow-list was refused.
	AuditSendRefusedCountry = "send.refused_country"
	// AuditSendRefusedOptOut: an SMS to a number that opted out was refused.
	AuditSendRefusedOptOut = "send.refused_opted_out"
)

// channelsAAD binds a tenant's sealed settings to the tenant.
func channelsAAD(tenantID string) []byte { return []byte("channels\x00" + tenantID) }

// channelSettings reads and opens a tenant's settings; none is the zero
// settings (everything shared, own country only).
func (e *Engine) channelSettings(ctx context.Context, tx Tx, tenantID string) (ChannelSettings, error) {
	row, err := tx.Channels(ctx, tenantID)
	if isNotFound(err) {
		return ChannelSettings{}, nil
	}
	if err != nil {
		return ChannelSettings{}, err
	}
	plain, err := e.cfg.Sealer.Open(row.Sealed, channelsAAD(tenantID))
	if err != nil {
		return ChannelSettings{}, Errorf(KindInternal, "the tenant's channel settings cannot be decrypted with the current master key")
	}
	var s ChannelSettings
	if err := json.Unmarshal(plain, &s); err != nil {
		return ChannelSettings{}, fmt.Errorf("core: decode channel settings: %w", err)
	}
	s.UpdatedAt = row.UpdatedAt
	return s, nil
}

// ChannelSettings returns a tenant's channel settings, secrets included
// (for the senders and the settings page, which must not echo them).
func (e *Engine) ChannelSettings(ctx context.Context, tenantID string) (ChannelSettings, error) {
	var s ChannelSettings
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		s, err = e.channelSettings(ctx, tx, tenantID)
		return err
	})
	return s, err
}

// SharedChannels reports whether the operator lets tenants send through
// the server's own accounts.
func (e *Engine) SharedChannels() bool { return !e.cfg.NoSharedChannels }

// ValidateChannels checks settings for saving: formats only, no network.
func (e *Engine) ValidateChannels(s *ChannelSettings) error {
	tw := &s.Twilio
	tw.AccountSID, tw.APIKeySID, tw.Number = strings.TrimSpace(tw.AccountSID), strings.TrimSpace(tw.APIKeySID), strings.TrimSpace(tw.Number)
	tw.MessagingServiceSID = strings.TrimSpace(tw.MessagingServiceSID)
	if tw.Number != "" {
		n, err := NormalizePhone(tw.Number, "")
		if err != nil || !strings.HasPrefix(strings.TrimSpace(tw.Number), "+") {
			return Errorf(KindInvalid, "the verification number must be in international format, e.g. +15550100100")
		}
		tw.Number = n
	}
	switch {
	case tw.Shared && e.cfg.NoSharedChannels:
		return Errorf(KindInvalid, "this server does not offer its own Twilio account; enter your Twilio account")
	case tw.Shared:
		tw.AccountSID, tw.APIKeySID, tw.Secret, tw.AuthToken, tw.MessagingServiceSID = "", "", "", "", ""
	case tw.AccountSID == "":
		// No Twilio of its own, and not shared: SMS and voice stay off.
	case !strings.HasPrefix(tw.AccountSID, "AC") || len(tw.AccountSID) != 34 || !isAlnum(tw.AccountSID):
		return Errorf(KindInvalid, "the Twilio account SID starts with AC and has 34 letters and digits")
	case tw.APIKeySID != "" && (!strings.HasPrefix(tw.APIKeySID, "SK") || len(tw.APIKeySID) != 34 || !isAlnum(tw.APIKeySID)):
		return Errorf(KindInvalid, "the Twilio API key SID starts with SK and has 34 letters and digits")
	case tw.Secret != "" && !isAlnum(tw.Secret):
		return Errorf(KindInvalid, "the Twilio auth token (or API key secret) has letters and digits only")
	case tw.AuthToken != "" && !isAlnum(tw.AuthToken):
		return Errorf(KindInvalid, "the Twilio auth token has letters and digits only")
	case tw.MessagingServiceSID != "" && (!strings.HasPrefix(tw.MessagingServiceSID, "MG") || len(tw.MessagingServiceSID) != 34):
		return Errorf(KindInvalid, "the messaging service SID starts with MG and has 34 characters")
	case tw.Number == "":
		return Errorf(KindInvalid, "enter the verification number of the Twilio account")
	}
	m := &s.Email
	m.Host, m.Username, m.From, m.FromName = strings.TrimSpace(m.Host), strings.TrimSpace(m.Username), strings.TrimSpace(m.From), strings.TrimSpace(m.FromName)
	switch {
	case m.Shared && e.cfg.NoSharedChannels:
		return Errorf(KindInvalid, "this server does not offer its own mail server; enter your SMTP server")
	case m.Shared:
		*m = EmailSettings{Shared: true}
	case m.Host == "":
	case strings.ContainsAny(m.Host, " /:@"):
		return Errorf(KindInvalid, "the SMTP host is a host name, e.g. smtp.example.com (the port goes in its own field)")
	case m.Port < 0 || m.Port > 65535:
		return Errorf(KindInvalid, "the SMTP port is between 1 and 65535")
	case m.TLS != "" && m.TLS != "starttls" && m.TLS != "tls" && m.TLS != "none":
		return Errorf(KindInvalid, "SMTP security is starttls, tls or none")
	default:
		a, err := mail.ParseAddress(m.From)
		if err != nil || a.Address != m.From {
			return Errorf(KindInvalid, "the sender address must be a bare e-mail address, e.g. verify@acme-it.example")
		}
	}
	var err error
	if s.SMSCountries, err = normalizeCountries(s.SMSCountries); err != nil {
		return err
	}
	if s.VoiceCountries, err = normalizeCountries(s.VoiceCountries); err != nil {
		return err
	}
	s.HelpText = strings.TrimSpace(s.HelpText)
	if n := len([]rune(s.HelpText)); n > 300 {
		return Errorf(KindInvalid, "the help text is at most 300 characters (it is %d)", n)
	}
	return nil
}

// normalizeCountries upper-cases and checks region codes, dropping repeats.
func normalizeCountries(cs []string) ([]string, error) {
	var out []string
	for _, c := range cs {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "" || slices.Contains(out, c) {
			continue
		}
		if phonenumbers.GetCountryCodeForRegion(c) == 0 {
			return nil, Errorf(KindInvalid, "%q is not a country code (use two letters, e.g. US, GB, DE)", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// PutChannelSettings validates and stores a tenant's channel settings,
// sealed. A secret left "" in s keeps the stored one (the settings page
// never shows secrets, so an untouched field comes back empty). The
// verification number becomes the tenant's SMS sender and routes its
// inbound texts; a number another tenant has is refused. The change is
// audited without the secrets, and the ChannelsFixedHook is called.
func (e *Engine) PutChannelSettings(ctx context.Context, tenantID, actor string, s ChannelSettings) (ChannelSettings, error) {
	if err := e.ValidateChannels(&s); err != nil {
		return ChannelSettings{}, err
	}
	var changed []OutboxKind
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		old, err := e.channelSettings(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		keepSecrets(&s, old)
		if s.Twilio.Configured() && s.Twilio.Secret == "" {
			return Errorf(KindInvalid, "enter the Twilio auth token (or the API key's secret)")
		}
		if s.Twilio.Configured() && s.Twilio.WebhookToken() == "" {
			return Errorf(KindInvalid, "with an API key, also enter the account's auth token: Twilio signs its webhooks with it")
		}
		if s.Email.Configured() && s.Email.Username != "" && s.Email.Password == "" {
			return Errorf(KindInvalid, "enter the SMTP password for %s", s.Email.Username)
		}
		changed = changedKinds(old, s)
		s.UpdatedAt = e.Now()
		plain, err := json.Marshal(s)
		if err != nil {
			return err
		}
		sealed, err := e.cfg.Sealer.Seal(plain, channelsAAD(tenantID))
		if err != nil {
			return err
		}
		if err := tx.PutChannels(ctx, &ChannelsRow{TenantID: tenantID, SMSNumber: s.Twilio.Number, Sealed: sealed, UpdatedAt: s.UpdatedAt}); err != nil {
			if ErrorKind(err) == KindConflict {
				return Errorf(KindConflict, "%s is another tenant's verification number", s.Twilio.Number)
			}
			return err
		}
		t, err := tx.Tenant(ctx, tenantID)
		if err != nil {
			return err
		}
		if t.SMSFrom != s.Twilio.Number {
			t.SMSFrom = s.Twilio.Number
			if err := tx.UpdateTenant(ctx, &t); err != nil {
				return err
			}
		}
		if err := e.audit(ctx, tx, tenantID, actor, AuditChannelsSaved, tenantID, channelsAuditDetail(s)); err != nil {
			return err
		}
		// The saved settings may be the fix of a misconfigured channel:
		// its parked messages are tried again at once (misconfig.go).
		_, err = e.clearChannels(ctx, tx, tenantID, actor, "channel settings saved", channelsOfKinds(changed)...)
		return err
	})
	if err != nil {
		return ChannelSettings{}, err
	}
	e.channelsFixed(ctx, tenantID, changed)
	return s, nil
}

// SetChannelsFixedHook installs the hook called after channel settings are
// saved (see [ChannelsFixedHook]); nil removes it.
func (e *Engine) SetChannelsFixedHook(h ChannelsFixedHook) {
	e.hooksMu.Lock()
	defer e.hooksMu.Unlock()
	e.channelsFixedHook = h
}

func (e *Engine) channelsFixed(ctx context.Context, tenantID string, kinds []OutboxKind) {
	e.hooksMu.Lock()
	h := e.channelsFixedHook
	e.hooksMu.Unlock()
	if h != nil && len(kinds) > 0 {
		h(ctx, tenantID, kinds)
	}
	e.Wake()
}

// hooks holds the engine's late-bound hooks.
type hooks struct {
	hooksMu           sync.Mutex
	channelsFixedHook ChannelsFixedHook
}

// keepSecrets fills secrets left empty in s from old, for the same account.
func keepSecrets(s *ChannelSettings, old ChannelSettings) {
	if s.Twilio.AccountSID != "" && s.Twilio.AccountSID == old.Twilio.AccountSID {
		if s.Twilio.Secret == "" && s.Twilio.APIKeySID == old.Twilio.APIKeySID {
			s.Twilio.Secret = old.Twilio.Secret
		}
		if s.Twilio.AuthToken == "" {
			s.Twilio.AuthToken = old.Twilio.AuthToken
		}
	}
	if s.Email.Host != "" && s.Email.Host == old.Email.Host && s.Email.Username == old.Email.Username && s.Email.Password == "" {
		s.Email.Password = old.Email.Password
	}
}

// changedKinds lists the outbox kinds whose accounts differ between a and b.
func changedKinds(a, b ChannelSettings) []OutboxKind {
	var out []OutboxKind
	if a.Twilio != b.Twilio {
		out = append(out, OutboxSMS, OutboxVoice)
	}
	if a.Email != b.Email {
		out = append(out, OutboxEmail)
	}
	return out
}

// channelsAuditDetail describes settings for the audit log, without secrets.
func channelsAuditDetail(s ChannelSettings) map[string]string {
	d := map[string]string{
		"sms_countries":   strings.Join(s.SMSCountries, ","),
		"voice_countries": strings.Join(s.VoiceCountries, ","),
		"number":          s.Twilio.Number,
	}
	switch {
	case s.Twilio.Shared:
		d["twilio"] = "shared"
	case s.Twilio.Configured():
		d["twilio"] = s.Twilio.AccountSID
	default:
		d["twilio"] = "none"
	}
	switch {
	case s.Email.Shared:
		d["email"] = "shared"
	case s.Email.Configured():
		d["email"] = s.Email.From + " via " + s.Email.Host
	default:
		d["email"] = "none"
	}
	return d
}

// CheckChannels checks the tenant's stored accounts live through the
// ChannelFactory: Twilio (the account and the number) and SMTP (connect and
// sign in). Each result is nil for a working or unused channel.
func (e *Engine) CheckChannels(ctx context.Context, tenantID string) (twilioErr, emailErr error, err error) {
	s, err := e.ChannelSettings(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	f := e.cfg.Channels
	if f == nil {
		return Errorf(KindUnavailable, "this server cannot check channels"), Errorf(KindUnavailable, "this server cannot check channels"), nil
	}
	if s.Twilio.Configured() {
		twilioErr = f.CheckTwilio(ctx, s.Twilio)
	}
	if s.Email.Configured() {
		emailErr = f.CheckEmail(ctx, s.Email)
	}
	return twilioErr, emailErr, nil
}

// helpText is the answer to HELP.
func (s ChannelSettings) helpText(t Tenant) string {
	if s.HelpText != "" {
		return s.HelpText
	}
	h := t.DisplayName() + " identity verification."
	if p := t.Branding.SupportPhone; p != "" {
		h += " Help: " + p + "."
	}
	return h + " Msg&data rates may apply. Reply STOP to opt out."
}

// CountryOf returns the ISO region of an E.164 number ("" when unknown).
// A number of a shared country code (+1 covers the US, Canada and the
// Caribbean) is the region its prefix belongs to, so +1 876 is Jamaica.
func (s ChannelSettings) CountryOf(phone string) string {
	n, err := phonenumbers.Parse(phone, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" && r != "ZZ" {
		return r
	}
	// Numbers that are not valid (test ranges such as +1 555 01xx) take the
	// main region of their country code.
	r := phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
	if r == "ZZ" {
		return ""
	}
	return r
}

// allowed returns the allow-list in force: list, else the tenant's country.
func allowed(list []string, t Tenant) []string {
	if len(list) > 0 {
		return list
	}
	return []string{t.Region()}
}

// AllowsSMS reports whether texts may go to phone.
func (s ChannelSettings) AllowsSMS(t Tenant, phone string) bool {
	return slices.Contains(allowed(s.SMSCountries, t), s.CountryOf(phone))
}

// AllowsVoice reports whether calls may go to phone.
func (s ChannelSettings) AllowsVoice(t Tenant, phone string) bool {
	return slices.Contains(allowed(s.VoiceCountries, t), s.CountryOf(phone))
}

// ErrCountryNotAllowed is matched (errors.Is) by refusals of a send to a
// country outside the tenant's allow-list.
var ErrCountryNotAllowed = errors.New("destination country not allowed")

// checkPhoneSend refuses an SMS or call that the tenant's rules forbid: a
// country outside the allow-list, or (SMS) a number that opted out. It
// returns a *SendRefusal describing the refusal, or nil. optedOut, when not
// nil, is whether to opted out as read in tx already (SendStats).
func (e *Engine) checkPhoneSend(ctx context.Context, tx Tx, tenantID string, kind OutboxKind, to string, optedOut *bool) (*SendRefusal, error) {
	if kind != OutboxSMS && kind != OutboxVoice {
		return nil, nil
	}
	t, err := tx.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	s, err := e.channelSettings(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	country := s.CountryOf(to)
	list, what := allowed(s.SMSCountries, t), "text messages"
	if kind == OutboxVoice {
		list, what = allowed(s.VoiceCountries, t), "calls"
	}
	if !slices.Contains(list, country) {
		shown := country
		if shown == "" {
			shown = "an unknown country"
		}
		return &SendRefusal{Action: AuditSendRefusedCountry, Kind: kind, To: to, Country: country,
			Err: fmt.Errorf("%w: %w", Errorf(KindForbidden,
				"%s to %s are not allowed for this MSP (allowed: %s); an admin can add the country in Settings → Channels",
				what, shown, strings.Join(list, ", ")), ErrCountryNotAllowed)}, nil
	}
	if kind == OutboxSMS {
		var out bool
		if optedOut != nil {
			out = *optedOut
		} else if out, err = smsOptedOut(ctx, tx, tenantID, to); err != nil {
			return nil, err
		}
		if out {
			return &SendRefusal{Action: AuditSendRefusedOptOut, Kind: kind, To: to, Country: country, Err: optedOutError()}, nil
		}
	}
	return nil, nil
}

// SendRefusal is an SMS or call the tenant's rules refused (country
// allow-list, opt-out). It is an error carrying the user-facing one; the
// engine audits it outside the refused transaction.
type SendRefusal struct {
	Action  string // AuditSendRefusedCountry or AuditSendRefusedOptOut
	Kind    OutboxKind
	To      string
	Country string
	Err     error
}

func (r *SendRefusal) Error() string { return r.Err.Error() }
func (r *SendRefusal) Unwrap() error { return r.Err }

// auditRefusal records a refused send in its own transaction: the one that
// tried to send rolled back. It returns err with any audit failure joined.
func (e *Engine) auditRefusal(ctx context.Context, tenantID, actor, subject string, err error) error {
	var r *SendRefusal
	if !errors.As(err, &r) {
		return err
	}
	d := map[string]string{"kind": string(r.Kind), "destination": MaskDestination(DestPhone, r.To), "country": r.Country}
	if aerr := e.Audit(ctx, tenantID, actor, r.Action, subject, d); aerr != nil {
		return fmt.Errorf("%w (and auditing the refusal failed: %w)", err, aerr)
	}
	return err
}

// refusalActor names who asked for a refused start.
func refusalActor(req StartRequest) string {
	if req.TechnicianID == "" && req.System != "" {
		return systemStarter + req.System
	}
	return techActor(req.TechnicianID)
}
