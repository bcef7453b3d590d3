// The pod's session: the sign-in pop-out, its one-time handoff token, and
// the partitioned cs_pod cookie the pod trades it for (see pod.go).

package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
)

// handlePodSignIn handles "GET /pod/signin?tenant=&nonce=": the sign-in page
// in the pop-out the pod opens.
func (s *Server) handlePodSignIn(w http.ResponseWriter, r *http.Request) {
	nonce := r.URL.Query().Get("nonce")
	if !validNonce(nonce) {
		http.Error(w, "This sign-in window must be opened from the Countersign pod; close it and use the pod's Sign in button.", http.StatusBadRequest)
		return
	}
	tenant := r.URL.Query().Get("tenant")
	if len(tenant) > 64 {
		tenant = ""
	}
	s.renderHTML(w, r, http.StatusOK, "login.html", consolePage{Dev: s.engine.DevDelivery(), Tenant: tenant, PodNonce: nonce})
}

// handoffToken is what the pop-out carries back to the pod.
type handoffToken struct {
	ID       string // single use
	TenantID string
	TechID   string
	Nonce    string // the pod's nonce: a token works only for the pod that asked
}

// grantPodHandoff answers a pop-out's successful sign-in with a handoff
// token instead of a console session.
func (s *Server) grantPodHandoff(w http.ResponseWriter, r *http.Request, tech core.Technician, nonce string) {
	tok, err := s.pod.handoff.Encode("handoff", handoffToken{ID: core.NewID("hof"), TenantID: tech.TenantID, TechID: tech.ID, Nonce: nonce})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"handoff": tok, "technician": technicianJSON(tech)})
}

type podSessionRequest struct {
	Token string `json:"token"`
	Nonce string `json:"nonce"`
	// Integration and MemberProof, when the pod has a PSA member proof that
	// no technician was linked to: the signed-in technician becomes it.
	Integration string          `json:"integration"`
	MemberProof json.RawMessage `json:"member_proof"`
}

// handlePodSession handles "POST /api/v1/pod/session": the pod trades the
// pop-out's handoff token for its own partitioned session cookie.
func (s *Server) handlePodSession(w http.ResponseWriter, r *http.Request) {
	var req podSessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	refused := core.Errorf(core.KindUnauthorized, "this sign-in has expired or was already used; sign in again")
	var tok handoffToken
	if len(req.Token) > 4096 || !validNonce(req.Nonce) || s.pod.handoff.Decode("handoff", req.Token, &tok) != nil || tok.Nonce != req.Nonce {
		s.writeError(w, r, refused)
		return
	}
	now := time.Now()
	if _, dup := s.pod.used.LoadOrStore(tok.ID, now.Add(handoffLifetime)); dup {
		s.writeError(w, r, refused)
		return
	}
	s.pod.used.Range(func(k, v any) bool { // forget tokens that expired anyway
		if now.After(v.(time.Time)) {
			s.pod.used.Delete(k)
		}
		return true
	})
	tech, err := s.engine.Technician(r.Context(), tok.TenantID, tok.TechID)
	if err != nil {
		s.writeError(w, r, refused)
		return
	}
	if len(req.MemberProof) > 0 && len(req.MemberProof) <= maxProofLen {
		// Linking is a convenience: a proof the PSA refuses leaves the
		// sign-in standing, and the technician links next time.
		if err := s.linkMember(r.Context(), tech, req.Integration, req.MemberProof); err != nil {
			s.log.InfoContext(r.Context(), "pod member not linked", "request_id", requestID(r), "err", err)
		}
	}
	s.grantPodSession(w, r, tech)
}

// grantPodSession sets the pod's session cookie for tech.
func (s *Server) grantPodSession(w http.ResponseWriter, r *http.Request, tech core.Technician) {
	values, err := s.sessionValues(tech)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, _ := s.podSessions.New(r, podSessionName)
	sess.Values = values
	if err := sess.Save(r, w); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, technicianJSON(tech))
}

// handlePodSignOut handles "POST /api/v1/pod/signout".
func (s *Server) handlePodSignOut(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.podSessions.Get(r, podSessionName)
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
}
