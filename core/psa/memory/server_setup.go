package memory

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa"
)

// DefaultWebhookSecret is the secret a new server signs its events with.
const DefaultWebhookSecret = "memory-webhook-secret"

// The memory PSA's setup API: where it posts events, the pod entries on its
// screens, and the sessions of members looking at a pod.
type (
	wireWebhook struct {
		ID       string `json:"id"`
		URL      string `json:"url"`
		Disabled bool   `json:"disabled,omitempty"` // the PSA stopped posting to it (failed deliveries, an admin)
	}
	wirePodScreen struct {
		ID   int    `json:"id"`
		Key  string `json:"key"`
		Name string `json:"name"`
	}
	wirePod struct {
		ID          string `json:"id,omitempty"`
		ScreenID    int    `json:"screen_id"`
		URL         string `json:"url"`
		Description string `json:"description"`
	}
	wireSessionProof struct {
		Token string `json:"token"`
	}
	wireEvent struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Action string `json:"action"`
		Ref    string `json:"ref"`
	}
)

type setupState struct {
	secret   string
	webhooks []wireWebhook
	pods     []wirePod
	sessions map[string]psa.Member // pod session token → member
	now      func() time.Time
}

func newSetupState() setupState {
	return setupState{secret: DefaultWebhookSecret, sessions: map[string]psa.Member{}, now: time.Now}
}

// podScreens are the screens of the memory PSA that can host a pod.
var podScreens = []wirePodScreen{{ID: 1, Key: "contact", Name: "Contacts"}, {ID: 2, Key: "ticket", Name: "Tickets"}}

func (s *Server) setupRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/v1/member-sessions/verify", s.handleVerifySession)
	m.HandleFunc("GET /api/v1/webhooks", s.handleListWebhooks)
	m.HandleFunc("POST /api/v1/webhooks", s.handleAddWebhook)
	m.HandleFunc("PATCH /api/v1/webhooks/{id}", s.handlePatchWebhook)
	m.HandleFunc("GET /api/v1/pod-screens", func(w http.ResponseWriter, _ *http.Request) { s.writeJSON(w, http.StatusOK, podScreens) })
	m.HandleFunc("GET /api/v1/pods", s.handleListPods)
	m.HandleFunc("POST /api/v1/pods", s.handleAddPod)
}

// SetWebhookSecret sets the secret events are signed with.
func (s *Server) SetWebhookSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setup.secret = secret
}

// SetClock sets the clock that stamps signed events; nil means time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	s.setup.now = now
}

// SignedEvent returns an event about record ref of type typ ("ticket") with
// action ("added"), as the memory PSA posts it to its webhooks: the JSON
// body and its X-Memory-Signature header, stamped now and with a fresh id.
func (s *Server) SignedEvent(typ, action, ref string) (http.Header, []byte) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	body, _ := json.Marshal(wireEvent{ID: "evt_" + hex.EncodeToString(id[:]), Type: typ, Action: action, Ref: ref})
	s.mu.Lock()
	secret, now := s.setup.secret, s.setup.now()
	s.mu.Unlock()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(SignatureHeader, Sign(secret, now, body))
	return h, body
}

// Sign returns the X-Memory-Signature value of body sent at t with secret.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// AddMemberSession starts a PSA session for member m, as when a technician
// signs in to the memory PSA, and returns the token its screens hand the
// pod as proof ({"token": …}).
func (s *Server) AddMemberSession(m psa.Member) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := "mps_" + hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setup.sessions[tok] = m
	return tok
}

// MemberProof returns the proof a pod on the memory PSA's screens would
// hand over for member m (a new session of theirs).
func (s *Server) MemberProof(m psa.Member) json.RawMessage {
	b, _ := json.Marshal(wireSessionProof{Token: s.AddMemberSession(m)})
	return b
}

// Webhooks returns the URLs events are posted to, in order of registration.
func (s *Server) Webhooks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, w := range s.setup.webhooks {
		out = append(out, w.URL)
	}
	return out
}

// DisableWebhook stops the PSA posting to the webhook at url, as a PSA
// does after failed deliveries; the client enables it again when it
// registers its callbacks.
func (s *Server) DisableWebhook(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range s.setup.webhooks {
		if w.URL == url {
			s.setup.webhooks[i].Disabled = true
		}
	}
}

// WebhookDisabled reports whether the webhook at url is disabled.
func (s *Server) WebhookDisabled(url string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.setup.webhooks {
		if w.URL == url {
			return w.Disabled
		}
	}
	return false
}

// Pods returns the pod entries on the memory PSA's screens, by screen key
// ("contact", "ticket") and URL.
func (s *Server) Pods() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.setup.pods {
		out = append(out, podScreens[p.ScreenID-1].Key+" "+p.URL)
	}
	return out
}

func (s *Server) handleVerifySession(w http.ResponseWriter, r *http.Request) {
	var in wireSessionProof
	if !s.decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	m, ok := s.setup.sessions[in.Token]
	s.mu.Unlock()
	if !ok || in.Token == "" {
		s.writeError(w, http.StatusUnauthorized, "no such member session")
		return
	}
	s.writeJSON(w, http.StatusOK, wireMember{ID: m.Ref, Username: m.Identifier, Name: m.Name, Email: m.Email})
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := append([]wireWebhook{}, s.setup.webhooks...)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAddWebhook(w http.ResponseWriter, r *http.Request) {
	var in wireWebhook
	if !s.decode(w, r, &in) {
		return
	}
	if !strings.HasPrefix(in.URL, "https://") && !strings.HasPrefix(in.URL, "http://") {
		s.writeError(w, http.StatusUnprocessableEntity, "url must be an http(s) URL")
		return
	}
	s.mu.Lock()
	if slices.ContainsFunc(s.setup.webhooks, func(h wireWebhook) bool { return h.URL == in.URL }) {
		s.mu.Unlock()
		s.writeError(w, http.StatusConflict, "a webhook with this url exists")
		return
	}
	s.lastID++
	in.ID = strconv.Itoa(s.lastID)
	s.setup.webhooks = append(s.setup.webhooks, in)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, in)
}

// wireWebhookPatch is the body of PATCH /webhooks/{id}.
type wireWebhookPatch struct {
	Disabled bool `json:"disabled"`
}

func (s *Server) handlePatchWebhook(w http.ResponseWriter, r *http.Request) {
	var in wireWebhookPatch
	if !s.decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.setup.webhooks {
		if h.ID == r.PathValue("id") {
			s.setup.webhooks[i].Disabled = in.Disabled
			s.writeJSON(w, http.StatusOK, s.setup.webhooks[i])
			return
		}
	}
	s.writeError(w, http.StatusNotFound, "no such webhook")
}

func (s *Server) handleListPods(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := append([]wirePod{}, s.setup.pods...)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAddPod(w http.ResponseWriter, r *http.Request) {
	var in wirePod
	if !s.decode(w, r, &in) {
		return
	}
	if in.ScreenID < 1 || in.ScreenID > len(podScreens) || in.URL == "" || in.Description == "" {
		s.writeError(w, http.StatusUnprocessableEntity, "screen_id, url and description are required")
		return
	}
	s.mu.Lock()
	s.lastID++
	in.ID = strconv.Itoa(s.lastID)
	s.setup.pods = append(s.setup.pods, in)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, in)
}

// decode reads a JSON body strictly into v, answering 400 when it cannot.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return false
	}
	return true
}

// PodQuery returns the query the memory PSA's screen for ref adds to the
// pod URL ({"ticket": ref} or {"contact": ref}).
func (s *Server) PodQuery(screen psa.Screen, ref string) (url.Values, bool) {
	switch screen {
	case psa.ScreenTicket, psa.ScreenContact:
		return url.Values{string(screen): {ref}}, true
	}
	return nil, false
}
