package autotasktest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa"
)

// PodQuery implements psatest.PodFake: Autotask loads an Insight on a
// ticket with the ticket's id as entityid, the signed-in resource's id,
// the theme and a signature (which the client does not trust); it has no
// Insight on contacts.
func (s *Server) PodQuery(screen psa.Screen, ref string) (url.Values, bool) {
	if screen != psa.ScreenTicket {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return url.Values{"entityid": {ref}, "resourceid": {strconv.FormatInt(s.apiUser, 10)}, "isdarktheme": {"False"},
		"signature": {"c2lnbmF0dXJlLW9mLXRoZS1mYWtl"}}, true
}

// SignedEvent implements psatest.EventFake: the delivery of a ticket event
// to the first active webhook, signed with the secret key the client
// registered (the suite registers before it asks). action is psa's:
// psa.CallbackAdded is Autotask's "Create", any other "Update".
func (s *Server) SignedEvent(typ, action, ref string) (http.Header, []byte) {
	a := "Update"
	if action == psa.CallbackAdded {
		a = "Create"
	}
	if !strings.EqualFold(typ, "ticket") {
		s.t.Errorf("autotasktest: SignedEvent: Autotask posts ticket events only, not %q", typ)
	}
	ev := s.TicketEvent(ref, a, time.Now())
	return ev.Header, ev.Body
}

// RejectCredentials implements psatest.CredentialRejecter: keys revoked in
// Autotask are a secret it refuses (RejectSecret).
func (s *Server) RejectCredentials(revoked bool) { s.RejectSecret(revoked) }
