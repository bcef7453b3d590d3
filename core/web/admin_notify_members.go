package web

import (
	"context"
	"net/http"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// PSA members on the On call page: an admin copies one of the MSP's
// technicians as their PSA knows them (name, e-mail, phone) into a
// notification group instead of typing them again. Only PSAs whose plugin
// lists members (psa.MemberLister) offer any.

// maxMemberPages bounds the pages of members read from one PSA for the
// page or to find the one copied: an MSP's members fit in a few.
const maxMemberPages = 10

type psaMemberJSON struct {
	IntegrationID string `json:"integration_id"`
	Integration   string `json:"integration"`
	Ref           string `json:"ref"`
	Name          string `json:"name"`
	Email         string `json:"email,omitempty"`
	Phone         string `json:"phone,omitempty"`
}

type psaMemberErrorJSON struct {
	Integration string `json:"integration"`
	Error       string `json:"error"`
}

// memberListers returns the tenant's integrations whose client lists members.
func (s *Server) memberListers(ctx context.Context, tenantID string) ([]core.Integration, []psa.MemberLister, error) {
	ins, err := s.engine.Integrations(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	var (
		out     []core.Integration
		listers []psa.MemberLister
	)
	for _, in := range ins {
		c, err := s.psaClient(in)
		if err != nil {
			continue // a kind this server has no plugin for: nothing to list
		}
		if l, ok := c.(psa.MemberLister); ok {
			out, listers = append(out, in), append(listers, l)
		}
	}
	return out, listers, nil
}

// allMembers reads l's active members, at most maxMemberPages pages.
func allMembers(ctx context.Context, l psa.MemberLister) ([]psa.Member, error) {
	var out []psa.Member
	cursor := ""
	for range maxMemberPages {
		p, err := l.ListMembers(ctx, psa.ListOptions{Cursor: cursor})
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	return out, nil
}

// handleNotifyPSAMembers handles "GET /api/v1/admin/notify/members": the
// active members of each of the tenant's PSAs that list them, for "Copy a
// PSA member". A PSA that fails is named with its error; the others still
// list.
func (s *Server) handleNotifyPSAMembers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ins, listers, err := s.memberListers(ctx, techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	members, failures := []psaMemberJSON{}, []psaMemberErrorJSON{}
	for i, in := range ins {
		ms, err := allMembers(ctx, listers[i])
		if err != nil {
			s.log.WarnContext(ctx, "listing PSA members for the On call page", "integration", in.ID, "err", err)
			failures = append(failures, psaMemberErrorJSON{Integration: in.Name, Error: core.ErrorMessage(err)})
			continue
		}
		for _, m := range ms {
			members = append(members, psaMemberJSON{IntegrationID: in.ID, Integration: in.Name, Ref: m.Ref, Name: m.Name, Email: m.Email, Phone: m.Phone})
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"members": members, "errors": failures})
}

// handleClonePSAMember handles "POST
// /api/v1/admin/notify/groups/{id}/members" {"integration_id",
// "member_ref"}: the member, read again from the PSA (what is copied is
// what the PSA says, not what the page sent), copied into the group.
func (s *Server) handleClonePSAMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		IntegrationID string `json:"integration_id"`
		MemberRef     string `json:"member_ref"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, tech := r.Context(), techFrom(r)
	if in.IntegrationID == "" || in.MemberRef == "" || len(in.IntegrationID) > 64 || len(in.MemberRef) > 64 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "choose the PSA member to copy"))
		return
	}
	integration, err := s.engine.Integration(ctx, tech.TenantID, in.IntegrationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.psaClient(integration)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l, ok := c.(psa.MemberLister)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s does not list its members; add the user by hand", integration.Name))
		return
	}
	ms, err := allMembers(ctx, l)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, m := range ms {
		if m.Ref != in.MemberRef {
			continue
		}
		u, err := s.engine.ClonePSAMember(ctx, tech, pathVar(r, "id"), integration.ID,
			core.PSAMember{Ref: m.Ref, Identifier: m.Identifier, Name: m.Name, Email: m.Email}, m.Phone)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, notifyUserOut(u))
		return
	}
	s.writeError(w, r, core.Errorf(core.KindNotFound, "%s has no active member %s (left the MSP, or deactivated?)", integration.Name, in.MemberRef))
}
