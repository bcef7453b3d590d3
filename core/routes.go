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
	// Provenance says where the destination came from ("psa:connectwise,
	// 2 Nov 2026", the day in the tenant's time zone), for phones and e-mails.
	Provenance string
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
	var (
		contact    Contact
		policy     Policy
		history    []Verification
		acct       DuoAccount
		acctErr    error
		duoUser    DuoUser
		haveUser   bool
		promptDev  Device
		promptErr  error
		pushErr    error
		candidates []DuoUser
		locked     map[DestinationKind]string // why a channel is locked
		loc        *time.Location             // the tenant's, for provenance dates
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if contact, err = tx.Contact(ctx, tenantID, contactID); err != nil {
			return err
		}
		if policy, err = EffectivePolicy(ctx, tx, tenantID, contact.ClientID); err != nil {
			return err
		}
		if history, err = tx.ListVerifications(ctx, tenantID, contactID, 50); err != nil {
			return err
		}
		if loc, err = tenantLocation(ctx, tx, tenantID); err != nil {
			return err
		}
		if e.cfg.Duo != nil && policy.Allows(MethodDuoPush) {
			acct, acctErr = duoAccountFor(ctx, tx, tenantID, contact.ClientID)
			if acctErr == nil {
				var open []Verification
				for _, v := range history {
					if v.Status.Open() {
						open = append(open, v)
					}
				}
				// A denial's 24-hour stop, a pending push or a spent limit
				// is why Push is not offered now.
				pushErr = e.checkPushLimits(ctx, tx, policy, open, tenantID, contact.ID, "", e.Now())
				if pushErr != nil && ErrorKind(pushErr) == KindInternal {
					return pushErr
				}
				u, err := tx.DuoUser(ctx, tenantID, acct.ID, contact.ID)
				switch {
				case err == nil:
					duoUser, haveUser = u, true
				case !isNotFound(err):
					return err
				}
			}
		}
		// A channel locked by consecutive failures is not offered: the
		// start would be refused (checkFailureCap), and the card offers
		// another way instead.
		for _, k := range []DestinationKind{DestPhone, DestEmail} {
			if err := e.checkFailureCap(ctx, tx, policy, tenantID, contact.ID, k); err != nil {
				if ErrorKind(err) == KindInternal {
					return err
				}
				if locked == nil {
					locked = map[DestinationKind]string{}
				}
				locked[k] = ErrorMessage(err)
			}
		}
		if policy.Allows(MethodWorkstationPrompt) {
			promptDev, _, promptErr = e.promptTarget(ctx, tx, contact, e.Now())
			if promptErr != nil && ErrorKind(promptErr) == KindInternal {
				return promptErr
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if haveUser {
		candidates = []DuoUser{duoUser}
	} else {
		candidates = duoCandidates(contact)
	}
	order := defaultRouteOrder
	if len(policy.Methods) > 0 {
		order = policy.Methods
	}
	var out, below []Route
	for _, m := range order {
		if !policy.Allows(m) {
			continue
		}
		if err := policy.CheckAssurance(m, purpose); err != nil {
			if _, ok := e.providers[m]; ok || (m == MethodDuoPush && e.cfg.Duo != nil) ||
				(m == MethodMicrosoftPush && e.cfg.Microsoft != nil) || m == MethodWorkstationPrompt {
				below = append(below, Route{Method: m, Assurance: AssuranceLabel(m), BelowMinimum: true, Reason: ErrorMessage(err)})
			}
			continue
		}
		switch m {
		case MethodDuoPush:
			if e.cfg.Duo == nil {
				continue
			}
			r := e.duoRoute(ctx, acct, acctErr, candidates)
			if r.Available && pushErr != nil {
				r.Available, r.Reason = false, ErrorMessage(pushErr)
			}
			out = append(out, r)
		case MethodMicrosoftPush:
			if e.cfg.Microsoft == nil {
				continue
			}
			// From the last import, without asking Microsoft; the push
			// itself checks registration live.
			r, err := e.MicrosoftRoute(ctx, tenantID, contact.ID)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case MethodWorkstationPrompt:
			r := Route{Method: m, Assurance: AssuranceLabel(m)}
			if promptErr != nil {
				r.Reason = ErrorMessage(promptErr)
			} else {
				r.Available, r.Destination, r.Reason = true, promptDev.Name, "prompt on "+promptDev.Name
			}
			out = append(out, r)
		default:
			p, ok := e.providers[m]
			if !ok {
				continue
			}
			r := destinationRoute(m, p.DestinationKind(), contact, history, loc)
			if why, ok := locked[p.DestinationKind()]; ok && r.Available {
				r.Available, r.Reason = false, why
			}
			out = append(out, r)
		}
	}
	return append(out, below...), nil
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
	r.Provenance = d.Source
	if !d.SetAt.IsZero() {
		r.Provenance += ", " + FormatDate(d.SetAt, loc)
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

// duoRoute asks Duo whether it can push to the contact.
func (e *Engine) duoRoute(ctx context.Context, acct DuoAccount, acctErr error, candidates []DuoUser) Route {
	r := Route{Method: MethodDuoPush, Assurance: AssuranceLabel(MethodDuoPush)}
	if acctErr != nil {
		r.Reason = errorWords(acctErr)
		return r
	}
	if len(candidates) == 0 {
		r.Reason = "no e-mail address or Duo username to find the Duo user by"
		return r
	}
	client, err := e.duoClient(acct)
	if err != nil {
		r.Reason = "Duo configuration error: " + errorWords(err)
		return r
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
					r.Provenance = "Duo user matched by " + user.MatchedBy
				}
				return r
			}
		}
		r.Reason = "the user's Duo devices cannot receive a push (no Duo Mobile)"
	}
	return r
}
