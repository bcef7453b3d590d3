package core

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
)

// SMS opt-in forms (issue 18 item 4). Before an MSP texts a client's end
// users, carriers want their consent on record. A technician sends a form —
// to one contact from the contact card or a pod, or to many from the bulk
// screen after a review of their numbers — by e-mail (the default) or by
// SMS. The form is a one-time link (256 bits, SHA-256 at rest) to a page
// where the end user consents to texts on their mobile number and, when the
// MSP allows it, corrects that number; the correction is written back to
// the PSA through the outbox. Consent is kept per number ([SMSOptIn]); a
// later STOP wins over it, and a number that texted STOP is never sent a
// form by SMS.
//
// The form's link lives for days, not the ten minutes of a verification
// link (security.md §2): it is not an authenticator, it asks for consent,
// and bulk forms are read when people read their mail. It is still used
// once, never changes anything on GET, and is answered only by a POST
// carrying the nonce of a page view (security.md §5 rules 1–2).

// OptInChannel is how an opt-in form reaches the end user.
type OptInChannel string

// Opt-in channels.
const (
	OptInByEmail OptInChannel = "email" // the default
	OptInBySMS   OptInChannel = "sms"
)

// Limits of opt-in forms.
const (
	OptInTTL           = 7 * 24 * time.Hour
	MaxOptInBatch      = 200 // contacts one bulk send may name
	optInFormsPerDay   = 3   // per contact, so a double click or a rerun does not spam anyone
	maxOptInCandidates = 200
)

// Message names of opt-in forms (see assets): the SMS, the e-mail, and the
// note written on the contact in the PSA when a form is sent.
const (
	MessageSMSOptIn   = "sms_optin"
	MessageEmailOptIn = "email_optin"
	MessageNoteOptIn  = "note_optin"
)

// Outbox kinds of opt-in forms. Both go to the contact's PSA.
const (
	// OutboxContactNote writes a note on a PSA contact: To is the
	// contact's reference, Tenant and Integration as for ticket notes.
	OutboxContactNote OutboxKind = "contact_note"
	// OutboxContactPhone writes a corrected mobile number to a PSA
	// contact: To is the contact's reference, Phone the new number (E.164)
	// and OldPhone the number it replaces as the PSA wrote it ("" to add).
	OutboxContactPhone OutboxKind = "contact_phone"
)

// OptInForm is one opt-in form sent to a contact.
type OptInForm struct {
	ID            string
	TenantID      string
	ContactID     string
	DestinationID string // the mobile on record the form asks about; "" for none
	Phone         string // that number, E.164; "" when the contact has none
	Channel       OptInChannel
	SentTo        string // the address or number the form went to
	TokenHash     []byte
	CreatedBy     string // technician id
	CreatedAt     time.Time
	ExpiresAt     time.Time
	// UsedAt is when the end user answered; zero while unanswered.
	UsedAt time.Time
	// Consented says the answer was yes; ConsentedPhone is the number
	// consented for (the corrected one when the end user corrected it).
	Consented      bool
	ConsentedPhone string
}

// SMSOptIn is a number's consent to a tenant's texts.
type SMSOptIn struct {
	TenantID    string
	Phone       string // E.164
	ContactID   string
	FormID      string
	ConsentedAt time.Time
}

// OptInSettings is what an MSP allows on its opt-in forms.
type OptInSettings struct {
	TenantID string
	// AllowCorrection lets the end user correct their mobile number on
	// the form; the new number is written back to the PSA. Off by default:
	// whoever holds the link can then change the number codes go to.
	AllowCorrection bool
	UpdatedAt       time.Time
	UpdatedBy       string
}

// OptInTx is the part of [Tx] for opt-in forms and consents.
type OptInTx interface {
	CreateOptInForm(ctx context.Context, f *OptInForm) error
	// OptInFormByHash finds a tenant's form by its token hash, used or
	// not, expired or not; none is ErrNotFound.
	OptInFormByHash(ctx context.Context, tenantID string, hash []byte) (OptInForm, error)
	// UseOptInForm records the answer to a form that has none yet, in one
	// conditional update; a form answered before is ErrConflict.
	UseOptInForm(ctx context.Context, f *OptInForm) error
	// CountOptInForms counts a contact's forms created at or after since.
	CountOptInForms(ctx context.Context, tenantID, contactID string, since time.Time) (int, error)
	// PutSMSOptIn inserts or replaces a number's consent.
	PutSMSOptIn(ctx context.Context, o *SMSOptIn) error
	// SMSConsents returns the consents and the opt-out states of those of
	// phones that have one, by number, in one read (the contact card and
	// list show them).
	SMSConsents(ctx context.Context, tenantID string, phones []string) (map[string]SMSOptIn, map[string]SMSOptOut, error)
	// OptInSettings reads a tenant's settings; none stored is ErrNotFound.
	OptInSettings(ctx context.Context, tenantID string) (OptInSettings, error)
	PutOptInSettings(ctx context.Context, s *OptInSettings) error
}

// OptInPhone returns the number an opt-in form asks about: the contact's
// phone labelled mobile or cell, else its default phone.
func (c Contact) OptInPhone() (Destination, bool) {
	for _, d := range c.Destinations {
		l := strings.ToLower(d.Label)
		if d.Kind == DestPhone && (strings.Contains(l, "mobile") || strings.Contains(l, "cell")) {
			return d, true
		}
	}
	return c.DefaultDestination(DestPhone)
}

// OptInState is where a contact's mobile stands for the tenant's texts.
type OptInState struct {
	Phone      string // the number (E.164); "" when the contact has none
	OptedIn    bool   // consented on a form, and no STOP since
	OptedInAt  time.Time
	OptedOut   bool // texted STOP (and not START since)
	OptedOutAt time.Time
}

// optInStates reads the states of the mobiles of cs, by contact id, in two
// reads whatever the number of contacts.
func optInStates(ctx context.Context, tx Tx, tenantID string, cs []Contact) (map[string]OptInState, error) {
	out := make(map[string]OptInState, len(cs))
	var phones []string
	for _, c := range cs {
		if d, ok := c.OptInPhone(); ok {
			phones = append(phones, d.Value)
		}
	}
	if len(phones) == 0 {
		return out, nil
	}
	ins, outs, err := tx.SMSConsents(ctx, tenantID, phones)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		d, ok := c.OptInPhone()
		if !ok {
			continue
		}
		s := OptInState{Phone: d.Value}
		if o, ok := outs[d.Value]; ok && o.OptedOut {
			s.OptedOut, s.OptedOutAt = true, o.ChangedAt
		}
		if in, ok := ins[d.Value]; ok && !s.OptedOut {
			s.OptedIn, s.OptedInAt = true, in.ConsentedAt
		}
		out[c.ID] = s
	}
	return out, nil
}

// OptInStates returns the opt-in state of each contact's mobile, by
// contact id; a contact without a phone is absent.
func (e *Engine) OptInStates(ctx context.Context, tenantID string, cs []Contact) (map[string]OptInState, error) {
	return view(ctx, e, func(tx Tx) (map[string]OptInState, error) { return optInStates(ctx, tx, tenantID, cs) })
}

// ListStates returns the shields and the opt-in states of the contacts of
// a list, by contact id, in one read transaction.
func (e *Engine) ListStates(ctx context.Context, tenantID string, cs []Contact) (map[string]Shield, map[string]OptInState, error) {
	now := e.Now()
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	var (
		last   map[string]Verification
		states map[string]OptInState
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if last, err = tx.ShieldVerifications(ctx, tenantID, ids, now); err != nil {
			return err
		}
		states, err = optInStates(ctx, tx, tenantID, cs)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	shields := make(map[string]Shield, len(ids))
	for _, id := range ids {
		var history []Verification
		if v, ok := last[id]; ok {
			history = []Verification{v}
		}
		shields[id] = ShieldFor(history, now)
	}
	return shields, states, nil
}

// OptInSettingsOf returns a tenant's opt-in settings (the defaults when
// none are stored).
func (e *Engine) OptInSettingsOf(ctx context.Context, tenantID string) (OptInSettings, error) {
	return view(ctx, e, func(tx Tx) (OptInSettings, error) { return optInSettings(ctx, tx, tenantID) })
}

func optInSettings(ctx context.Context, tx Tx, tenantID string) (OptInSettings, error) {
	s, err := tx.OptInSettings(ctx, tenantID)
	if isNotFound(err) {
		return OptInSettings{TenantID: tenantID}, nil
	}
	return s, err
}

// PutOptInSettings writes a tenant's opt-in settings and audits the change.
func (e *Engine) PutOptInSettings(ctx context.Context, tenantID, actor string, allowCorrection bool) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		s := OptInSettings{TenantID: tenantID, AllowCorrection: allowCorrection, UpdatedAt: e.Now(), UpdatedBy: actor}
		if err := tx.PutOptInSettings(ctx, &s); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditOptInSettingsUpdated, tenantID,
			map[string]string{"allow_correction": boolWord(allowCorrection)})
	})
}

func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// OptInFilter selects the contacts of a bulk send.
type OptInFilter struct {
	ClientID string // "" for every client
	Name     string // part of a name
	Phone    string // a number, in any format, or some of its digits
}

// OptInCandidate is one contact on the bulk review screen.
type OptInCandidate struct {
	Contact    Contact
	ClientName string
	Phone      Destination // the mobile; zero Value when there is none
	Email      string      // the default e-mail address; "" for none
	State      OptInState
	// Flags say what is wrong with the number as it was written, for the
	// technician to check before sending ("no country code: read as +1
	// (US)"); empty when nothing is.
	Flags []string
	// Unsure says the number may not be the one meant: written without a
	// country code (the tenant's region was assumed) or not valid. The
	// review leaves such contacts for the technician to tick.
	Unsure bool
	// NoEmail and NoSMS say why a form cannot go by that channel; "" when
	// it can.
	NoEmail, NoSMS string
}

// Flagged reports whether the number has something to check.
func (c OptInCandidate) Flagged() bool { return len(c.Flags) > 0 }

// phoneFlags returns what is wrong with d as written: not E.164, or no
// country code (so that the tenant's region was assumed).
func phoneFlags(d Destination, region string) []string {
	var flags []string
	if !isE164(d.Value) {
		return []string{"not a valid E.164 number: " + d.Value}
	}
	raw := strings.TrimSpace(d.Raw)
	if raw == "" || raw == d.Value {
		return nil
	}
	if !strings.HasPrefix(raw, "+") && !strings.HasPrefix(raw, "00") {
		flags = append(flags, "no country code: \""+raw+"\" was read as "+d.Value+" ("+region+")")
	} else {
		flags = append(flags, "not written in E.164: \""+raw+"\" was read as "+d.Value)
	}
	return flags
}

// OptInCandidates returns the contacts f selects, for the bulk review:
// each with its mobile, what is wrong with how it was written, its opt-in
// state and whether a form can go by e-mail and by SMS.
func (e *Engine) OptInCandidates(ctx context.Context, tenantID string, f OptInFilter) ([]OptInCandidate, error) {
	return view(ctx, e, func(tx Tx) ([]OptInCandidate, error) {
		tenant, err := tx.Tenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		q := ContactQuery{ClientID: f.ClientID, Text: strings.TrimSpace(f.Name), Limit: maxOptInCandidates}
		if p := strings.TrimSpace(f.Phone); p != "" {
			if n, err := NormalizePhone(p, tenant.Region()); err == nil {
				q.Phone = n
			} else if digits := onlyDigitsOf(p); digits != "" {
				q.Text = strings.TrimSpace(q.Text + " " + digits)
			} else {
				return nil, Errorf(KindInvalid, "%q is not a phone number or part of one", p)
			}
		}
		cs, err := tx.SearchContacts(ctx, tenantID, q)
		if err != nil {
			return nil, err
		}
		return e.candidates(ctx, tx, tenant, cs)
	})
}

func (e *Engine) candidates(ctx context.Context, tx Tx, tenant Tenant, cs []Contact) ([]OptInCandidate, error) {
	states, err := optInStates(ctx, tx, tenant.ID, cs)
	if err != nil {
		return nil, err
	}
	settings, err := optInSettings(ctx, tx, tenant.ID)
	if err != nil {
		return nil, err
	}
	ch, err := e.channelSettings(ctx, tx, tenant.ID)
	if err != nil {
		return nil, err
	}
	clients := map[string]string{}
	out := make([]OptInCandidate, 0, len(cs))
	for _, c := range cs {
		name, ok := clients[c.ClientID]
		if !ok {
			if cl, err := tx.Client(ctx, tenant.ID, c.ClientID); err == nil {
				name = cl.Name
			} else if !isNotFound(err) {
				return nil, err
			}
			clients[c.ClientID] = name
		}
		k := OptInCandidate{Contact: c, ClientName: name, State: states[c.ID]}
		if d, ok := c.DefaultDestination(DestEmail); ok {
			k.Email = d.Value
		}
		phone, hasPhone := c.OptInPhone()
		if hasPhone {
			k.Phone = phone
			k.Flags = phoneFlags(phone, tenant.Region())
			raw := strings.TrimSpace(phone.Raw)
			k.Unsure = !isE164(phone.Value) || raw != "" && !strings.HasPrefix(raw, "+") && !strings.HasPrefix(raw, "00")
		}
		valid := hasPhone && isE164(phone.Value)
		switch {
		case !valid && !settings.AllowCorrection:
			k.NoEmail = "no valid mobile number on record to ask about"
		case k.Email == "":
			k.NoEmail = "no e-mail address on record"
		}
		switch {
		case !valid:
			k.NoSMS = "no valid mobile number on record"
		case k.State.OptedOut:
			k.NoSMS = "opted out (replied STOP): send the form by e-mail instead"
		case !ch.AllowsSMS(tenant, phone.Value):
			k.NoSMS = "texts to " + orWord(ch.CountryOf(phone.Value), "this country") + " are not allowed for this MSP"
		}
		out = append(out, k)
	}
	return out, nil
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func onlyDigitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// OptInSkip is a contact a send left out, and why.
type OptInSkip struct {
	ContactID string
	Name      string
	Reason    string
}

// OptInResult is what a send did.
type OptInResult struct {
	Sent    int
	Skipped []OptInSkip
}

// SendOptInForms sends an opt-in form by ch to each of contactIDs, for
// technician tech, in one transaction: each form, its message and the note
// on the PSA contact go to the outbox, and each send is audited. A contact
// the form cannot reach by ch (no address, an opted-out or disallowed
// number, three forms today already) is skipped with its reason; with a
// single contact the reason is the error.
func (e *Engine) SendOptInForms(ctx context.Context, tech Technician, contactIDs []string, ch OptInChannel) (OptInResult, error) {
	if ch == "" {
		ch = OptInByEmail
	}
	switch {
	case ch != OptInByEmail && ch != OptInBySMS:
		return OptInResult{}, Errorf(KindInvalid, "an opt-in form goes by email or sms, not %q", ch)
	case len(contactIDs) == 0:
		return OptInResult{}, Errorf(KindInvalid, "choose at least one contact")
	case len(contactIDs) > MaxOptInBatch:
		return OptInResult{}, Errorf(KindInvalid, "at most %d contacts at once", MaxOptInBatch)
	}
	ids := slices.Compact(slices.Sorted(slices.Values(contactIDs)))
	var res OptInResult
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		res = OptInResult{}
		tenant, err := tx.Tenant(ctx, tech.TenantID)
		if err != nil {
			return err
		}
		cs := make([]Contact, 0, len(ids))
		for _, id := range ids {
			c, err := tx.Contact(ctx, tenant.ID, id)
			if err != nil {
				return err // another tenant's contact reads as not found
			}
			cs = append(cs, c)
		}
		cands, err := e.candidates(ctx, tx, tenant, cs)
		if err != nil {
			return err
		}
		now := e.Now()
		for _, k := range cands {
			reason := k.NoEmail
			if ch == OptInBySMS {
				reason = k.NoSMS
			}
			if reason == "" {
				n, err := tx.CountOptInForms(ctx, tenant.ID, k.Contact.ID, now.Add(-24*time.Hour))
				if err != nil {
					return err
				}
				if n >= optInFormsPerDay {
					reason = "three forms were sent in the last day already"
				}
			}
			if reason != "" {
				res.Skipped = append(res.Skipped, OptInSkip{ContactID: k.Contact.ID, Name: k.Contact.Name(), Reason: reason})
				continue
			}
			if err := e.sendOptInForm(ctx, tx, tenant, tech, k, ch, now); err != nil {
				return err
			}
			res.Sent++
		}
		if len(ids) == 1 && res.Sent == 0 {
			kind := KindInvalid
			if ch == OptInBySMS && len(cands) == 1 && cands[0].State.OptedOut {
				return optedOutError()
			}
			if strings.HasPrefix(res.Skipped[0].Reason, "three forms") {
				kind = KindRateLimited
			}
			return Errorf(kind, "no form was sent to %s: %s", res.Skipped[0].Name, res.Skipped[0].Reason)
		}
		return nil
	})
	if err == nil && res.Sent > 0 {
		e.Wake()
	}
	return res, err
}

// sendOptInForm creates one form and queues its message and PSA note, in tx.
func (e *Engine) sendOptInForm(ctx context.Context, tx Tx, tenant Tenant, tech Technician, k OptInCandidate, ch OptInChannel, now time.Time) error {
	token, err := newLinkToken(e.cfg.Rand)
	if err != nil {
		return err
	}
	f := OptInForm{ID: NewID("opt"), TenantID: tenant.ID, ContactID: k.Contact.ID, DestinationID: k.Phone.ID, Phone: k.Phone.Value,
		Channel: ch, TokenHash: LinkTokenHash(token), CreatedBy: tech.ID, CreatedAt: now, ExpiresAt: now.Add(OptInTTL)}
	if !isE164(f.Phone) {
		f.Phone, f.DestinationID = "", ""
	}
	data := MessageData{TenantName: tenant.DisplayName(), ContactName: MessageName(k.Contact.FirstName), TechnicianName: MessageName(tech.Name),
		Link: e.OptInURL(tenant.Slug, token), ExpiresMinutes: int(OptInTTL / time.Minute), Branding: tenant.Branding,
		Destination: lastDigits(f.Phone)}
	msg := Outbound{Kind: OutboxEmail, To: k.Email, FromName: tenant.DisplayName()}
	name := MessageEmailOptIn
	if ch == OptInBySMS {
		msg = Outbound{Kind: OutboxSMS, To: f.Phone, From: tenant.SMSFrom, FromName: tenant.DisplayName()}
		name = MessageSMSOptIn
	}
	r, err := e.cfg.Renderer.Render(name, data)
	if err != nil {
		return err
	}
	msg.Subject, msg.Text, msg.HTML = r.Subject, r.Text, r.HTML
	if ch == OptInBySMS {
		// A form asks for consent: it always says how to opt out.
		msg.Text = CarrierWording(msg.Text, tenant.DisplayName(), true)
	}
	f.SentTo = msg.To
	if err := tx.CreateOptInForm(ctx, &f); err != nil {
		return err
	}
	if err := e.queueNotice(ctx, tx, tenant.ID, msg, now); err != nil {
		return err
	}
	noted, err := e.queueOptInNote(ctx, tx, tenant, k.Contact, data, ch, msg.To, now)
	if err != nil {
		return err
	}
	return e.audit(ctx, tx, tenant.ID, techActor(tech.ID), AuditOptInSent, k.Contact.ID, map[string]string{
		"form": f.ID, "channel": string(ch), "to": MaskDestination(destKindOf(ch), msg.To),
		"phone": MaskDestination(DestPhone, f.Phone), "psa_note": boolWord(noted)})
}

// lastDigits returns the last two digits of an E.164 number; "" for none.
func lastDigits(phone string) string {
	if len(phone) < 8 {
		return ""
	}
	return phone[len(phone)-2:]
}

func destKindOf(ch OptInChannel) DestinationKind {
	if ch == OptInBySMS {
		return DestPhone
	}
	return DestEmail
}

// psaIntegrationOf returns the integration of a PSA mirror's client; ok is
// false for a local contact or a PSA no longer connected.
func psaIntegrationOf(ctx context.Context, tx Tx, c Contact) (Integration, Client, bool, error) {
	if c.PSARef == "" {
		return Integration{}, Client{}, false, nil
	}
	cl, err := tx.Client(ctx, c.TenantID, c.ClientID)
	if err != nil || cl.PSAKind == "" {
		return Integration{}, cl, false, err
	}
	ins, err := tx.ListIntegrations(ctx, c.TenantID)
	if err != nil {
		return Integration{}, cl, false, err
	}
	for _, in := range ins {
		if in.Kind == cl.PSAKind {
			return in, cl, true, nil
		}
	}
	return Integration{}, cl, false, nil
}

// queueOptInNote queues the note on the PSA contact that a form was sent,
// and reports whether there was a PSA contact to note it on.
func (e *Engine) queueOptInNote(ctx context.Context, tx Tx, tenant Tenant, c Contact, d MessageData, ch OptInChannel, to string, now time.Time) (bool, error) {
	in, _, ok, err := psaIntegrationOf(ctx, tx, c)
	if err != nil || !ok {
		return false, err
	}
	d.Link = "" // the note is read by the MSP's staff: never the end user's link
	d.ContactName = c.Name()
	d.Channel = "e-mail to " + MaskDestination(DestEmail, to)
	if ch == OptInBySMS {
		d.Channel = "text message to " + MaskDestination(DestPhone, to)
	}
	r, err := e.cfg.Renderer.Render(MessageNoteOptIn, d)
	if err != nil {
		return false, err
	}
	msg := Outbound{Kind: OutboxContactNote, To: c.PSARef, Tenant: tenant.ID, Integration: in.ID, Text: r.Text}
	return true, e.queueNotice(ctx, tx, tenant.ID, msg, now)
}

// OptInURL builds the end-user URL of an opt-in form from the configured
// public base URL (security.md §2).
func (e *Engine) OptInURL(tenantSlug, token string) string {
	return e.cfg.PublicURL + "/o/" + url.PathEscape(tenantSlug) + "/" + token
}

// OptInPage is what the end user's opt-in page shows.
type OptInPage struct {
	Tenant          Tenant
	ContactName     string // first name, as messages show it
	MaskedPhone     string // "" when the form asks for a number
	AllowCorrection bool
	// Answered: the form was answered (now or before); Consented says how.
	Answered  bool
	Consented bool
	// OptedOut: the number texted STOP; consent on the form does not undo
	// that, only START from the phone does (the carrier blocks until then).
	OptedOut bool
}

// errUnknownOptIn is the one answer for unknown, expired and other tenants'
// forms (security.md §8).
var errUnknownOptIn = Errorf(KindNotFound, "this link is not valid or has expired; ask your IT help desk to send a new one")

func (e *Engine) optInForm(ctx context.Context, tx Tx, slug, token string) (Tenant, OptInForm, error) {
	if slug == "" || token == "" || len(token) > 128 {
		return Tenant{}, OptInForm{}, errUnknownOptIn
	}
	t, err := tx.TenantBySlug(ctx, slug)
	if err != nil {
		return Tenant{}, OptInForm{}, unknownOptInOr(err)
	}
	f, err := tx.OptInFormByHash(ctx, t.ID, LinkTokenHash(token))
	if err != nil {
		return Tenant{}, OptInForm{}, unknownOptInOr(err)
	}
	if f.UsedAt.IsZero() && !e.Now().Before(f.ExpiresAt) {
		return Tenant{}, OptInForm{}, errUnknownOptIn
	}
	return t, f, nil
}

func unknownOptInOr(err error) error {
	if isNotFound(err) {
		return errUnknownOptIn
	}
	return err
}

func (e *Engine) optInPage(ctx context.Context, tx Tx, t Tenant, f OptInForm) (OptInPage, error) {
	c, err := tx.Contact(ctx, t.ID, f.ContactID)
	if err != nil {
		return OptInPage{}, unknownOptInOr(err)
	}
	s, err := optInSettings(ctx, tx, t.ID)
	if err != nil {
		return OptInPage{}, err
	}
	p := OptInPage{Tenant: t, ContactName: MessageName(c.FirstName), AllowCorrection: s.AllowCorrection,
		Answered: !f.UsedAt.IsZero(), Consented: f.Consented}
	phone := f.Phone
	if f.ConsentedPhone != "" {
		phone = f.ConsentedPhone
	}
	if phone != "" {
		p.MaskedPhone = MaskDestination(DestPhone, phone)
		if p.OptedOut, err = smsOptedOut(ctx, tx, t.ID, phone); err != nil {
			return OptInPage{}, err
		}
	}
	return p, nil
}

// OptInView returns what the opt-in page of token shows; it changes
// nothing. Unknown and expired links are the same ErrNotFound.
func (e *Engine) OptInView(ctx context.Context, slug, token string) (OptInPage, error) {
	return view(ctx, e, func(tx Tx) (OptInPage, error) {
		t, f, err := e.optInForm(ctx, tx, slug, token)
		if err != nil {
			return OptInPage{}, err
		}
		return e.optInPage(ctx, tx, t, f)
	})
}

// OptInAnswer is the end user's POST from the opt-in page.
type OptInAnswer struct {
	Consent bool
	// Phone is the corrected mobile number, in international format; ""
	// keeps the number on record.
	Phone     string
	IP        string
	UserAgent string
}

// AnswerOptIn records the end user's answer, once: a form answered before
// is ErrConflict and changes nothing. A consent is kept for the number
// (the corrected one, when the MSP allows corrections); a corrected number
// replaces the mobile on record and is written back to the PSA through the
// outbox.
func (e *Engine) AnswerOptIn(ctx context.Context, slug, token string, a OptInAnswer) (OptInPage, error) {
	var p OptInPage
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		t, f, err := e.optInForm(ctx, tx, slug, token)
		if err != nil {
			return err
		}
		if !f.UsedAt.IsZero() {
			return Errorf(KindConflict, "this form was answered already; nothing was changed")
		}
		s, err := optInSettings(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		c, err := tx.Contact(ctx, t.ID, f.ContactID)
		if err != nil {
			return unknownOptInOr(err)
		}
		phone := f.Phone
		corrected := false
		if raw := strings.TrimSpace(a.Phone); a.Consent && raw != "" {
			if !s.AllowCorrection {
				return Errorf(KindForbidden, "%s does not allow changing the number here; call your IT help desk", t.DisplayName())
			}
			if !strings.HasPrefix(raw, "+") && !strings.HasPrefix(raw, "00") {
				return Errorf(KindInvalid, "write the number with its country code, e.g. +44 7700 900123")
			}
			n, err := NormalizePhone(raw, t.Region())
			if err != nil {
				return err
			}
			corrected, phone = n != f.Phone, n
		}
		if a.Consent && phone == "" {
			return Errorf(KindInvalid, "enter your mobile number, with its country code")
		}
		now := e.Now()
		f.UsedAt, f.Consented = now, a.Consent
		if a.Consent {
			f.ConsentedPhone = phone
		}
		if err := tx.UseOptInForm(ctx, &f); err != nil {
			return err
		}
		detail := map[string]string{"form": f.ID, "ip": a.IP, "user_agent": ClipBytes(a.UserAgent, 200, "")}
		if !a.Consent {
			if err := e.audit(ctx, tx, t.ID, "enduser", AuditOptInDeclined, c.ID, detail); err != nil {
				return err
			}
			p, err = e.optInPage(ctx, tx, t, f)
			return err
		}
		if err := tx.PutSMSOptIn(ctx, &SMSOptIn{TenantID: t.ID, Phone: phone, ContactID: c.ID, FormID: f.ID, ConsentedAt: now}); err != nil {
			return err
		}
		if corrected {
			if err := e.correctMobile(ctx, tx, t, c, f, phone, now); err != nil {
				return err
			}
		}
		detail["phone"], detail["corrected"] = MaskDestination(DestPhone, phone), boolWord(corrected)
		if err := e.audit(ctx, tx, t.ID, "enduser", AuditOptInConsented, c.ID, detail); err != nil {
			return err
		}
		p, err = e.optInPage(ctx, tx, t, f)
		return err
	})
	if err == nil {
		e.Wake()
	}
	return p, err
}

// correctMobile replaces the contact's mobile with phone (or adds one),
// with the end user as its provenance, queues the change for the PSA, and
// audits it.
func (e *Engine) correctMobile(ctx context.Context, tx Tx, t Tenant, c Contact, f OptInForm, phone string, now time.Time) error {
	old, err := c.Destination(f.DestinationID)
	hadOld := err == nil && f.DestinationID != ""
	d := Destination{ContactID: c.ID, Kind: DestPhone, Value: phone, Raw: phone, Label: "Mobile", Source: "enduser:optin", SetAt: now, SetBy: "enduser"}
	if hadOld {
		d.ID, d.Label, d.IsDefault = old.ID, old.Label, old.IsDefault
		if err := tx.UpdateDestination(ctx, t.ID, &d); err != nil {
			return err
		}
	} else if err := tx.AddDestination(ctx, t.ID, &d); err != nil {
		return err
	}
	detail := map[string]string{"form": f.ID, "old": MaskDestination(DestPhone, old.Value), "new": MaskDestination(DestPhone, phone), "psa": "no"}
	in, _, ok, err := psaIntegrationOf(ctx, tx, c)
	if err != nil {
		return err
	}
	if ok {
		oldRaw := old.Raw
		if oldRaw == "" {
			oldRaw = old.Value
		}
		msg := Outbound{Kind: OutboxContactPhone, To: c.PSARef, Tenant: t.ID, Integration: in.ID, Phone: phone, OldPhone: oldRaw, PhoneLabel: d.Label}
		if err := e.queueNotice(ctx, tx, t.ID, msg, now); err != nil {
			return err
		}
		detail["psa"] = in.Kind
	}
	return e.audit(ctx, tx, t.ID, "enduser", AuditOptInPhoneCorrected, c.ID, detail)
}
