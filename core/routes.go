package core

import (
	"context"
	"strings"
	"time"
)

// Route is one way to verify a contact, as the console and pods list them:
// the methods the person really has, in the policy's order, each available
// or not with the reason in words.
type Route struct {
	Method Method
	// Destination is what it goes to, as technicians see it (a masked
	// number, "Duo user jane", a workstation name); DestinationID is the
	// destination to start it with ("" for pushes and prompts).
	Destination   string
	DestinationID string
	// Provenance says, in a technician's words, how a Duo or Microsoft 365
	// user was matched to the contact ("Duo user matched by e-mail
	// address"); "" for phones and e-mails, whose Source and SourceDate say
	// where they came from instead.
	Provenance string
	// Source is where a phone's or e-mail's destination came from
	// (Destination.Source: "psa:connectwise", "manual"), an identifier the
	// caller turns into words (the web layer knows the PSAs' names);
	// SourceDate is the day it was set, in the tenant's time zone ("2 Nov
	// 2026"), "" when not recorded.
	Source     string
	SourceDate string
	Available  bool
	// Reason says why it is unavailable, or what it will do when available
	// ("push to iPhone of Sam").
	Reason string
	// Assurance is security.md §9's label.
	Assurance string
	// BelowMinimum says the method is weaker than the client's policy
	// requires for the verification's purpose: it is not allowed (not
	// Available), Reason says what is required, and it is listed after
	// the allowed ones.
	BelowMinimum bool
	// Locked says the channel is locked by consecutive failures, or a
	// push is stopped after a Deny or fraud report (Reason says which):
	// an admin may reset it (Engine.ResetLock).
	Locked bool
}

// defaultRouteOrder is the order without a policy's own: the strongest
// factors the user already has first (issue 19), then codes, then links.
var defaultRouteOrder = []Method{MethodDuoPush, MethodMicrosoftPush, MethodWorkstationPrompt, MethodSMSCode, MethodVoiceCode,
	MethodSMSLink, MethodEmailCode, MethodEmailLink}

// Assurance labels (security.md §9).
var assuranceLabels = map[Method]string{
	MethodDuoPush:           "Medium — approve-only push",
	MethodMicrosoftPush:     microsoftAssurance,
	MethodWorkstationPrompt: "Strong — number matching on the user's own workstation",
	MethodSMSCode:           "Medium — restricted (PSTN)",
	MethodVoiceCode:         "Medium — restricted (PSTN)",
	MethodSMSLink:           "Medium — restricted (PSTN)",
	MethodEmailCode:         "Low — mailbox only",
	MethodEmailLink:         "Low — mailbox only",
}

// verifiedDuoPushLabel is §9's label of a Duo push sent as a Verified Duo
// Push.
const verifiedDuoPushLabel = "Strong — Verified Duo Push (the caller types the code the technician reads)"

// AssuranceLabel returns security.md §9's label for m.
func AssuranceLabel(m Method) string { return assuranceLabels[m] }

// Routes lists the ways to verify a contact for an identity check; see
// [Engine.RoutesFor].
func (e *Engine) Routes(ctx context.Context, tenantID, contactID string) ([]Route, error) {
	return e.RoutesFor(ctx, tenantID, contactID, PurposeIdentity)
}

// RoutesFor lists the ways to verify a contact for purpose. Duo is asked
// live (preauth) whether it can push to the person, so the list says "Duo
// user not found" before anyone presses anything; a Duo that cannot be
// reached makes that one route unavailable, not the list. Methods below
// the policy's minimum assurance for purpose are listed last, not allowed,
// with the rule in words (and Duo is not asked about them).
func (e *Engine) RoutesFor(ctx context.Context, tenantID, contactID string, purpose Purpose) ([]Route, error) {
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	f, err := e.readRouteFacts(ctx, tenantID, contactID)
	if err != nil {
		return nil, err
	}
	order := defaultRouteOrder
	if len(f.policy.Methods) > 0 {
		order = f.policy.Methods
	}
	var out, below []Route
	for _, m := range order {
		if !f.policy.Allows(m) {
			continue
		}
		if err := f.checkAssurance(m, purpose); err != nil {
			if e.offersMethod(m) {
				below = append(below, Route{Method: m, Assurance: AssuranceLabel(m), BelowMinimum: true, Reason: ErrorMessage(err)})
			}
			continue
		}
		r, ok, err := e.methodRoute(ctx, f, m, purpose)
		switch {
		case err != nil:
			return nil, err
		case ok && r.BelowMinimum:
			below = append(below, r)
		case ok:
			out = append(out, r)
		}
	}
	return append(out, below...), nil
}

// routeFacts is what RoutesFor reads about a contact in one view, before
// it asks any provider.
type routeFacts struct {
	tenantID string
	contact  Contact
	policy   Policy
	history  []Verification
	loc      *time.Location // the tenant's, for provenance dates
	// Duo push: the client's account (or why there is none), the
	// usernames to ask Duo about, and why the push limits refuse one now.
	acct       DuoAccount
	acctErr    error
	candidates []DuoUser
	pushErr    error
	// The workstation prompt's device, or why there is none.
	promptDev Device
	promptErr error
	locked    map[DestinationKind]string // why a channel is locked
}

// readRouteFacts reads the contact, its policy and history and, for each
// method the policy allows, what decides whether it is offered. A refusal
// (no Duo account, a spent limit, no workstation) is kept as the route's
// reason; only an internal error fails the read.
func (e *Engine) readRouteFacts(ctx context.Context, tenantID, contactID string) (routeFacts, error) {
	f := routeFacts{tenantID: tenantID}
	var (
		duoUser  DuoUser
		haveUser bool
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if f.contact, err = tx.Contact(ctx, tenantID, contactID); err != nil {
			return err
		}
		if f.policy, err = EffectivePolicy(ctx, tx, tenantID, f.contact.ClientID); err != nil {
			return err
		}
		if f.history, err = tx.ListVerifications(ctx, tenantID, contactID, 50); err != nil {
			return err
		}
		if f.loc, err = tenantLocation(ctx, tx, tenantID); err != nil {
			return err
		}
		if e.cfg.Duo != nil && f.policy.Allows(MethodDuoPush) {
			if duoUser, haveUser, err = e.readDuoRouteFacts(ctx, tx, &f); err != nil {
				return err
			}
		}
		if f.locked, err = e.lockedChannels(ctx, tx, f); err != nil {
			return err
		}
		if f.policy.Allows(MethodWorkstationPrompt) {
			f.promptDev, _, f.promptErr = e.promptTarget(ctx, tx, f.contact, e.Now())
			if f.promptErr != nil && ErrorKind(f.promptErr) == KindInternal {
				return f.promptErr
			}
		}
		return nil
	})
	if err != nil {
		return routeFacts{}, err
	}
	if haveUser {
		f.candidates = []DuoUser{duoUser}
	} else {
		f.candidates = duoCandidates(f.contact)
	}
	return f, nil
}

// readDuoRouteFacts reads the client's Duo account into f, whether the
// push limits refuse a push now (a denial's 24-hour stop, a pending push
// or a spent limit is why Push is not offered), and the contact's mapped
// Duo user, if any.
func (e *Engine) readDuoRouteFacts(ctx context.Context, tx Tx, f *routeFacts) (DuoUser, bool, error) {
	f.acct, f.acctErr = duoAccountFor(ctx, tx, f.tenantID, f.contact.ClientID)
	if f.acctErr != nil {
		return DuoUser{}, false, nil
	}
	var open []Verification
	for _, v := range f.history {
		if v.Status.Open() {
			open = append(open, v)
		}
	}
	f.pushErr = e.checkPushLimits(ctx, tx, f.policy, open, f.tenantID, f.contact.ID, "", e.Now())
	if f.pushErr != nil && ErrorKind(f.pushErr) == KindInternal {
		return DuoUser{}, false, f.pushErr
	}
	u, err := tx.DuoUser(ctx, f.tenantID, f.acct.ID, f.contact.ID)
	switch {
	case err == nil:
		return u, true, nil
	case !isNotFound(err):
		return DuoUser{}, false, err
	}
	return DuoUser{}, false, nil
}

// lockedChannels says why each message channel locked by consecutive
// failures is: such a channel is not offered, since the start would be
// refused (checkFailureCap), and the card offers another way instead.
func (e *Engine) lockedChannels(ctx context.Context, tx Tx, f routeFacts) (map[DestinationKind]string, error) {
	var locked map[DestinationKind]string
	for _, k := range []DestinationKind{DestPhone, DestEmail} {
		if err := e.checkFailureCap(ctx, tx, f.policy, f.tenantID, f.contact.ID, k); err != nil {
			if ErrorKind(err) == KindInternal {
				return nil, err
			}
			if locked == nil {
				locked = map[DestinationKind]string{}
			}
			locked[k] = ErrorMessage(err)
		}
	}
	return locked, nil
}

// checkAssurance is the policy's CheckAssurance before any provider is
// asked: a Duo push of an account that asks for Verified Duo Push may meet
// what an approve-only push does not (methodRoute learns from Duo whether
// it gives it to this user).
func (f routeFacts) checkAssurance(m Method, purpose Purpose) error {
	if m == MethodDuoPush && f.acctErr == nil && f.acct.ID != "" {
		return f.policy.checkLevel(duoAssurance(f.acct), methodName(m), purpose)
	}
	return f.policy.CheckAssurance(m, purpose)
}

// offersMethod reports whether this server can verify by m at all, so
// that a method below a policy's minimum is listed as such only where it
// would otherwise be offered.
func (e *Engine) offersMethod(m Method) bool {
	if _, ok := e.providers[m]; ok {
		return true
	}
	return (m == MethodDuoPush && e.cfg.Duo != nil) || (m == MethodMicrosoftPush && e.cfg.Microsoft != nil) || m == MethodWorkstationPrompt
}

// methodRoute is the route of m, allowed by the policy for the purpose;
// ok is false when this server cannot verify by m. A Duo user whom Duo
// gives only an approve-only push where the purpose needs a Verified Duo
// Push comes back BelowMinimum.
func (e *Engine) methodRoute(ctx context.Context, f routeFacts, m Method, purpose Purpose) (Route, bool, error) {
	switch m {
	case MethodDuoPush:
		if e.cfg.Duo == nil {
			return Route{}, false, nil
		}
		r, level := e.duoRoute(ctx, f.acct, f.acctErr, f.candidates)
		if err := f.policy.checkLevel(level, methodName(m), purpose); r.Available && err != nil {
			return Route{Method: m, Destination: r.Destination, Assurance: r.Assurance, BelowMinimum: true,
				Reason: "Duo does not offer Verified Duo Push for this user, and " + ErrorMessage(err)}, true, nil
		}
		if r.Available && f.pushErr != nil {
			r.Available, r.Reason, r.Locked = false, ErrorMessage(f.pushErr), pushStopped(f.pushErr)
		}
		return r, true, nil
	case MethodMicrosoftPush:
		if e.cfg.Microsoft == nil {
			return Route{}, false, nil
		}
		// From the last import, without asking Microsoft; the push
		// itself checks registration live.
		r, err := e.MicrosoftRoute(ctx, f.tenantID, f.contact.ID)
		return r, err == nil, err
	case MethodWorkstationPrompt:
		r := Route{Method: m, Assurance: AssuranceLabel(m)}
		if f.promptErr != nil {
			r.Reason = ErrorMessage(f.promptErr)
		} else {
			r.Available, r.Destination, r.Reason = true, f.promptDev.Name, "prompt on "+f.promptDev.Name
		}
		return r, true, nil
	}
	p, ok := e.providers[m]
	if !ok {
		return Route{}, false, nil
	}
	r := destinationRoute(m, p.DestinationKind(), f.contact, f.history, f.loc)
	if why, ok := f.locked[p.DestinationKind()]; ok && r.Available {
		r.Available, r.Reason, r.Locked = false, why, true
	}
	return r, true, nil
}

// destinationRoute is the route of a message method: its default
// destination, or why there is none usable.
func destinationRoute(m Method, k DestinationKind, c Contact, history []Verification, loc *time.Location) Route {
	r := Route{Method: m, Assurance: AssuranceLabel(m)}
	d, ok := c.DefaultDestination(k)
	if !ok {
		if k == DestPhone {
			r.Reason = "no phone number on record"
		} else {
			r.Reason = "no e-mail address on record"
		}
		return r
	}
	r.Destination, r.DestinationID = d.Masked(), d.ID
	r.Source = d.Source
	if !d.SetAt.IsZero() {
		r.SourceDate = FormatDate(d.SetAt, loc)
	}
	if m == MethodSMSCode || m == MethodSMSLink {
		// The newest SMS outcome to this number tells whether its owner
		// texted STOP (Twilio refuses every SMS after that).
		for _, v := range history {
			if v.DestinationID != d.ID || (v.Method != MethodSMSCode && v.Method != MethodSMSLink) {
				continue
			}
			if v.Status == StatusFailed && strings.Contains(v.Detail, "opted out") {
				r.Reason = "number opted out of SMS (the owner texted STOP)"
				return r
			}
			break
		}
	}
	r.Available = true
	r.Reason = d.Label
	if r.Reason == "" {
		r.Reason = string(k)
	}
	if d.IsDefault {
		r.Reason += ", default"
	}
	return r
}

// duoRoute asks Duo whether it can push to the contact, and returns the
// route with the level its push would reach: Strong when Duo answers
// preauth with a Verified Duo Push transaction.
func (e *Engine) duoRoute(ctx context.Context, acct DuoAccount, acctErr error, candidates []DuoUser) (Route, Assurance) {
	r := Route{Method: MethodDuoPush, Assurance: AssuranceLabel(MethodDuoPush)}
	if acctErr != nil {
		r.Reason = errorWords(acctErr)
		return r, AssurancePush
	}
	if len(candidates) == 0 {
		r.Reason = "no e-mail address or Duo username to find the Duo user by"
		return r, AssurancePush
	}
	client, err := e.duoClient(acct)
	if err != nil {
		r.Reason = "Duo configuration error: " + errorWords(err)
		return r, AssurancePush
	}
	cctx, cancel := context.WithTimeout(ctx, duoCallTimeout)
	defer cancel()
	user, pre, err := e.duoPreauth(cctx, client, acct, candidates)
	r.Destination = MaskDestination(DestDuo, user.Username)
	switch {
	case err != nil:
		r.Reason = duoErrorWords(err)
	case pre.Result != "auth":
		r.Reason = duoPreauthWords(pre)
	default:
		for _, d := range pre.Devices {
			if d.CanPush() {
				name := d.Name
				if name == "" {
					name = d.Type
				}
				r.Available, r.Reason = true, "push to "+name
				if user.MatchedBy != "" {
					r.Provenance = matchWords("Duo", user.MatchedBy)
				}
				if pre.Txid != "" {
					r.Reason = verifiedDuoPush + " to " + name
					r.Assurance = verifiedDuoPushLabel
					return r, AssuranceStrong
				}
				return r, AssurancePush
			}
		}
		r.Reason = "the user's Duo devices cannot receive a push (no Duo Mobile)"
	}
	return r, AssurancePush
}

// matchWords says how a Duo or Microsoft 365 user was matched to a contact
// (DuoUser.MatchedBy, MicrosoftUser.MatchedBy) in a technician's words.
func matchWords(system, by string) string {
	switch by {
	case "manual":
		return system + " user chosen by an admin"
	case "email", "mail":
		return system + " user matched by e-mail address"
	case "email local part":
		return system + " user matched by e-mail name (before the @)"
	case "upn":
		return system + " user matched by sign-in name (UPN)"
	}
	return system + " user matched by " + by
}
