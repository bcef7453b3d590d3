package core

import (
	"context"
	"strings"
)

// PSA members in pods. A pod proves, through its PSA, which PSA member is
// looking at it (a member proof); a link says which technician that member
// is. These methods keep the links, each change with its audit in one
// transaction.

// PSAMember is a member of a PSA as its plugin proved it.
type PSAMember struct {
	Ref        string // the member's id in the PSA; required
	Identifier string // the sign-in name, shown when there is no name
	Name       string
	Email      string // "" when the PSA gave none
}

// ErrLinkRequired is a member sign-in by a PSA member no technician is
// linked to, on a tenant that does not create pod-only technicians (or
// whose new technician's email is someone's already).
var ErrLinkRequired = Errorf(KindForbidden,
	"your PSA account is not linked to a Countersign technician yet; sign in with Countersign once and it will be")

// SignInMember returns the technician linked to member m of integration
// integrationID and audits the pod sign-in (AuditPodMemberSignedIn). A
// member without a link gets a new pod-only technician, linked to it, when
// the tenant's policy says so (Policy.AutoCreatePodTechnicians); else the
// error is ErrLinkRequired and the technician links by signing in once.
// All of it is one transaction.
func (e *Engine) SignInMember(ctx context.Context, tenantID, integrationID string, m PSAMember) (Technician, error) {
	if m.Ref == "" {
		return Technician{}, Errorf(KindUnauthorized, "the PSA did not say which member is signed in")
	}
	var tech Technician
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		tech, err = tx.LinkedTechnician(ctx, tenantID, integrationID, m.Ref)
		if isNotFound(err) {
			tech, err = e.createMemberTechnician(ctx, tx, tenantID, integrationID, m)
		}
		if err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, techActor(tech.ID), AuditPodMemberSignedIn, integrationID, map[string]string{"member": m.Ref})
	})
	return tech, err
}

// createMemberTechnician creates, in tx, the pod-only technician of a
// member no technician is linked to, when the tenant's policy allows it.
func (e *Engine) createMemberTechnician(ctx context.Context, tx Tx, tenantID, integrationID string, m PSAMember) (Technician, error) {
	policy, err := EffectivePolicy(ctx, tx, tenantID, "")
	if err != nil {
		return Technician{}, err
	}
	if !policy.AutoCreatePodTechnicians {
		return Technician{}, ErrLinkRequired
	}
	now := e.Now()
	tech := Technician{ID: NewID("tec"), TenantID: tenantID, Email: memberEmail(m, integrationID),
		Name: m.Name, Role: RolePodOnly, CreatedAt: now}
	if tech.Name == "" {
		tech.Name = m.Identifier
	}
	if err := tx.CreateTechnician(ctx, &tech); err != nil {
		if ErrorKind(err) == KindConflict {
			// The email belongs to an existing technician; emails are no
			// identity, so that technician must link by signing in.
			return Technician{}, ErrLinkRequired
		}
		return Technician{}, err
	}
	if err := e.audit(ctx, tx, tenantID, "psa:member:"+m.Ref, AuditTechnicianCreated, tech.ID,
		map[string]string{"role": string(tech.Role), "integration": integrationID}); err != nil {
		return Technician{}, err
	}
	return tech, e.linkMember(ctx, tx, tenantID, integrationID, m.Ref, tech.ID)
}

// memberEmail is the email of a technician created for a PSA member: the
// member's own when the PSA gave one, else a placeholder that cannot
// receive mail (RFC 2606 .invalid).
func memberEmail(m PSAMember, integrationID string) string {
	if e := strings.TrimSpace(strings.ToLower(m.Email)); e != "" && len(e) <= 320 {
		return e
	}
	return "member-" + m.Ref + "@" + strings.ToLower(integrationID) + ".pod.invalid"
}

// LinkMember links member memberRef of an integration to technician
// techID, replacing any earlier link of the member (the technician signed
// in with Countersign while the pod held the member's proof), and audits
// it in the same transaction.
func (e *Engine) LinkMember(ctx context.Context, tenantID, integrationID, memberRef, techID string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		return e.linkMember(ctx, tx, tenantID, integrationID, memberRef, techID)
	})
}

// ClaimMember returns the technician linked to member memberRef of an
// integration, linking the member to technician techID first when no one
// is (audited in the same transaction). The caller compares the result
// with techID: a member linked to another technician is not techID's.
func (e *Engine) ClaimMember(ctx context.Context, tenantID, integrationID, memberRef, techID string) (Technician, error) {
	var linked Technician
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		linked, err = tx.LinkedTechnician(ctx, tenantID, integrationID, memberRef)
		if !isNotFound(err) {
			return err
		}
		if err := e.linkMember(ctx, tx, tenantID, integrationID, memberRef, techID); err != nil {
			return err
		}
		linked, err = tx.Technician(ctx, tenantID, techID)
		return err
	})
	return linked, err
}

// linkMember links a member to a technician in tx, with its audit.
func (e *Engine) linkMember(ctx context.Context, tx Tx, tenantID, integrationID, memberRef, techID string) error {
	if memberRef == "" {
		return Errorf(KindUnauthorized, "the PSA did not say which member is signed in")
	}
	if err := tx.LinkTechnician(ctx, tenantID, integrationID, memberRef, techID, e.Now()); err != nil {
		return err
	}
	return e.audit(ctx, tx, tenantID, techActor(techID), AuditPodMemberLinked, integrationID, map[string]string{"member": memberRef})
}
