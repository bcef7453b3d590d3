package cwtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psatest"
)

// The optional parts of psatest's fake: the Hosted API pod's query, a pod
// member's proof, and signed callbacks.

// PodQuery implements psatest.PodFake: ConnectWise fills the pod URL's
// [cw_id] and [cw_screen] (reference §8.2) with the record id and the
// screen's lower-case name.
func (s *Server) PodQuery(screen psa.Screen, ref string) (url.Values, bool) {
	switch screen {
	case psa.ScreenTicket:
		return url.Values{"id": {ref}, "screen": {"service_ticket"}}, true
	case psa.ScreenContact:
		return url.Values{"id": {ref}, "screen": {"contact"}}, true
	}
	return nil, false
}

// MemberProof implements psatest.MemberFake: m becomes a pod member of the
// tenant (see [Server.AddPodMember]) with fresh member credentials, and
// the proof is what the pod forwards of ConnectWise's
// getMemberAuthentication answer (reference §8.5).
func (s *Server) MemberProof(m psa.Member) json.RawMessage {
	id := m.Identifier
	if id == "" {
		id = "m" + m.Ref
	}
	a := connectwise.MemberAuth{MemberID: id, Hash: "h4sh-" + newGUID(), Context: "ctx-" + newGUID()}
	s.AddPodMember(m, a, false)
	b, _ := json.Marshal(map[string]string{"site": "https://" + s.site + "/", "companyid": s.company,
		"memberid": a.MemberID, "memberHash": a.Hash, "memberContext": a.Context, "memberEmail": m.Email})
	return b
}

// SignedEvent implements psatest.EventFake with [Server.SignedCallback].
func (s *Server) SignedEvent(typ, action, ref string) (http.Header, []byte) {
	id, err := strconv.Atoi(ref)
	if err != nil {
		s.t.Fatalf("cwtest: SignedEvent: ref %q is not a ConnectWise id", ref)
	}
	cb := s.SignedCallback(action, typ, id, map[string]any{"id": id})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Signature", cb.Signature)
	return h, cb.Body
}

// Interface guards: cwtest is a psatest fake with every optional part.
var (
	_ psatest.Fake       = (*Server)(nil)
	_ psatest.PodFake    = (*Server)(nil)
	_ psatest.MemberFake = (*Server)(nil)
	_ psatest.EventFake  = (*Server)(nil)
)
