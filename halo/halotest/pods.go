package halotest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"time"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
)

// ProofRedirect is the redirect URL of the proofs [Server.MemberProof]
// makes: Countersign's agent sign-in callback on a made-up host.
const ProofRedirect = "https://cs.example" + halo.AgentCallbackPath

// PodQuery implements psatest.PodFake: Halo frames the custom tab on the
// ticket screen only, with the ticket's id.
func (s *Server) PodQuery(screen psa.Screen, ref string) (url.Values, bool) {
	if screen != psa.ScreenTicket {
		return nil, false
	}
	return url.Values{"ticket": {ref}}, true
}

// MemberProof implements psatest.MemberFake: m becomes an agent who has
// just signed in through /auth/authorize, and the proof is what the tab's
// script would post — the code Halo gave, the PKCE verifier, the redirect
// URL.
func (s *Server) MemberProof(m psa.Member) json.RawMessage {
	s.AddAgent(m, false)
	verifier := randomToken() + randomToken()
	sum := sha256.Sum256([]byte(verifier))
	code := randomToken()
	s.mu.Lock()
	s.redirects = append(s.redirects, ProofRedirect)
	s.codes[code] = codeRec{clientID: AgentClientID, redirectURI: ProofRedirect, challenge: base64.RawURLEncoding.EncodeToString(sum[:]),
		agent: s.mustIDLocked(m.Ref), expires: s.now().Add(time.Minute)}
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"code": code, "code_verifier": verifier, "redirect_uri": ProofRedirect})
	return b
}
