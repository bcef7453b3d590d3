// The pod's member proof: a PSA member signed in to the PSA proves it to us
// through the plugin's psa.MemberProver, and is linked to a technician.

package web

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

type podMemberRequest struct {
	Tenant      string          `json:"tenant"`
	Integration string          `json:"integration"`
	Proof       json.RawMessage `json:"proof"`
}

// handlePodMember handles "POST /api/v1/pod/member": the pod presents what
// its PSA told it about the member looking at it (psa.MemberProver). The plugin confirms it with the PSA; a linked technician
// then gets a pod session, and so does a new pod-only technician when the
// tenant allows it. Otherwise the pod falls back to the sign-in pop-out,
// which links the member for next time.
func (s *Server) handlePodMember(w http.ResponseWriter, r *http.Request) {
	var req podMemberRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if len(req.Tenant) > 64 || len(req.Proof) == 0 || len(req.Proof) > maxProofLen {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "tenant, integration and the PSA's member proof are required"))
		return
	}
	tenant, err := s.engine.TenantBySlug(ctx, req.Tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, member, err := s.proveMember(ctx, tenant.ID, req.Integration, req.Proof)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech, err := s.engine.SignInMember(ctx, tenant.ID, in.ID, coreMember(member))
	if err != nil {
		if err == core.ErrLinkRequired {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": err.Error(), "kind": "forbidden", "link_required": true})
			return
		}
		s.writeError(w, r, err)
		return
	}
	s.grantPodSession(w, r, tech)
}

// coreMember is what the engine takes for a member a plugin proved.
func coreMember(m psa.Member) core.PSAMember {
	return core.PSAMember{Ref: m.Ref, Identifier: m.Identifier, Name: m.Name, Email: m.Email}
}

// proveMember has the integration's plugin confirm a member proof with
// its PSA.
func (s *Server) proveMember(ctx context.Context, tenantID, integrationID string, proof json.RawMessage) (core.Integration, psa.Member, error) {
	emb, in, err := s.podEmbedder(ctx, tenantID, integrationID)
	if err != nil {
		return in, psa.Member{}, err
	}
	prover, ok := emb.(psa.MemberProver)
	if !ok {
		return in, psa.Member{}, core.Errorf(core.KindInvalid, "%s pods cannot prove who is signed in; use Countersign's sign-in", in.Kind)
	}
	m, err := prover.ProveMember(ctx, proof)
	if err != nil {
		return in, m, err
	}
	if m.Ref == "" {
		return in, m, core.Errorf(core.KindUnauthorized, "the PSA did not say which member is signed in")
	}
	return in, m, nil
}

// linkMember links the member a pod proved to tech, after tech signed in
// through the pop-out.
func (s *Server) linkMember(ctx context.Context, tech core.Technician, integrationID string, proof json.RawMessage) error {
	in, member, err := s.proveMember(ctx, tech.TenantID, integrationID, proof)
	if err != nil {
		return err
	}
	return s.engine.LinkMember(ctx, tech.TenantID, in.ID, member.Ref, tech.ID)
}
