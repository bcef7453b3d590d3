package core

import "context"

// microsoftAssurance is security.md §9's label for the connector push:
// approve/deny only, no number matching (channels.md §3.8).
const microsoftAssurance = "Medium — approve-only push"

// MicrosoftRoute is the Microsoft Authenticator push route of a contact,
// for the ways-to-verify list: available, or why not in words ("no
// Microsoft Authenticator registered", "not matched to a Microsoft 365
// user", a push limit). It reads what the last import stored and asks
// Microsoft nothing; the push itself checks registration live. Routes can
// list it like Duo's.
func (e *Engine) MicrosoftRoute(ctx context.Context, tenantID, contactID string) (Route, error) {
	r := Route{Method: MethodMicrosoftPush, Assurance: microsoftAssurance}
	if e.cfg.Microsoft == nil {
		r.Reason = "Microsoft Authenticator push is not available on this server"
		return r, nil
	}
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		contact, err := tx.Contact(ctx, tenantID, contactID)
		if err != nil {
			return err
		}
		policy, err := EffectivePolicy(ctx, tx, tenantID, contact.ClientID)
		if err != nil {
			return err
		}
		if !policy.Allows(MethodMicrosoftPush) {
			r.Reason = "the policy for this client does not allow Microsoft Authenticator push"
			return nil
		}
		conn, err := tx.MicrosoftConnectionOfClient(ctx, tenantID, contact.ClientID)
		switch {
		case isNotFound(err):
			r.Reason = "no Microsoft 365 tenant connected for this client"
			return nil
		case err != nil:
			return err
		case !conn.PushEnabled:
			r.Reason = "Microsoft Authenticator push is switched off for this client"
			return nil
		}
		u, err := tx.MicrosoftUserOfContact(ctx, tenantID, conn.ID, contact.ID)
		switch {
		case isNotFound(err):
			r.Reason = "not matched to a Microsoft 365 user"
			return nil
		case err != nil:
			return err
		}
		r.Destination = MaskDestination(DestMicrosoft, u.UPN)
		r.Provenance = matchWords("Microsoft 365", u.MatchedBy)
		if !conn.ImportedAt.IsZero() {
			loc, err := tenantLocation(ctx, tx, tenantID)
			if err != nil {
				return err
			}
			r.Provenance += ", imported " + FormatDate(conn.ImportedAt, loc)
		}
		switch {
		case !u.Enabled:
			r.Reason = "the Microsoft 365 account is disabled"
			return nil
		case !u.Authenticator:
			r.Reason = "no Microsoft Authenticator registered"
			if u.Methods != "" {
				r.Reason += " (registered: " + u.Methods + ")"
			}
			return nil
		}
		history, err := tx.ListVerifications(ctx, tenantID, contact.ID, 50)
		if err != nil {
			return err
		}
		var open []Verification
		for _, v := range history {
			if v.Status.Open() {
				open = append(open, v)
			}
		}
		if err := e.checkPushLimits(ctx, tx, policy, open, tenantID, contact.ID, "", e.Now()); err != nil {
			if ErrorKind(err) == KindInternal {
				return err
			}
			r.Reason, r.Locked = ErrorMessage(err), pushStopped(err)
			return nil
		}
		r.Available = true
		// The prompt shows no context (security.md §4): the technician
		// says what to expect.
		r.Reason = "approve-only push to " + u.UPN + " — tell the caller to expect an Approve/Deny prompt"
		return nil
	})
	return r, err
}
