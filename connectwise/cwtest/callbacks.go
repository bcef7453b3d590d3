package cwtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/countersign/countersign/connectwise"
)

// The fake's callbacks (reference §10) and Hosted API setup (§8.1):
// registrations and Manage Hosted API entries held to the contract, the
// callback key endpoint outside it, and signed callback messages for
// tests to post to the receiver under test.

// setupState is the fake's callbacks, hosted setups and signing keys,
// guarded by Server.mu.
type setupState struct {
	callbacks  []callbackRec
	setups     []hostedSetupRec
	screens    []hostedScreenRec
	screensSet bool
	keyID      string            // the key URL's id of the current signing key
	keys       map[string]string // key URL id → signing key
	keyFetches int
}

type (
	// CallbackEntry model.
	callbackRec struct {
		ID                   int    `json:"id"`
		Description          string `json:"description,omitempty"`
		URL                  string `json:"url"`
		ObjectID             int    `json:"objectId"`
		Type                 string `json:"type"`
		Level                string `json:"level"`
		MemberID             int    `json:"memberId"`
		PayloadVersion       string `json:"payloadVersion,omitempty"`
		InactiveFlag         bool   `json:"inactiveFlag"`
		IsSoapCallbackFlag   bool   `json:"isSoapCallbackFlag"`
		IsSelfSuppressedFlag bool   `json:"isSelfSuppressedFlag"`
		ConnectWiseID        string `json:"connectWiseID"`
		Info                 info   `json:"_info"`
	}

	// ConnectWiseHostedScreen model.
	hostedScreenRec struct {
		ID       int    `json:"id"`
		ScreenID string `json:"screenId"`
		Name     string `json:"name"`
	}

	// ConnectWiseHostedSetup model.
	hostedSetupRec struct {
		ID           int    `json:"id"`
		ScreenID     int    `json:"screenId"`
		Description  string `json:"description"`
		URL          string `json:"url"`
		Type         string `json:"type"`
		Origin       string `json:"origin,omitempty"`
		DisabledFlag bool   `json:"disabledFlag"`
		CreatedBy    string `json:"createdBy"`
		DateCreated  string `json:"dateCreated"`
		Info         info   `json:"_info"`
	}
)

// callbackLevels are the levels each callback type takes (reference
// §10.1), lower case.
var callbackLevels = map[string][]string{
	"ticket":  {"owner", "board", "project", "phase", "status", "ticket", "integratortag"},
	"contact": {"owner", "type", "territory", "company", "contact"},
	"company": {"owner", "status", "type", "territory", "company", "integratortag"},
}

// defaultHostedScreens is the fake's answer to GET
// /system/connectWiseHostedScreens. The real list's values are
// unconfirmed (reference §8.1); these follow its model.
func defaultHostedScreens() []hostedScreenRec {
	return []hostedScreenRec{
		{ID: 1, ScreenID: "Company", Name: "Companies"},
		{ID: 2, ScreenID: "Contact", Name: "Contacts"},
		{ID: 3, ScreenID: "ServiceTicket", Name: "Service Tickets"},
		{ID: 4, ScreenID: "Opportunity", Name: "Opportunities"},
	}
}

func (s *Server) setupHandlers() map[string]func(*req) {
	return map[string]func(*req){
		"GET /system/callbacks":                       s.handleCallbacks,
		"POST /system/callbacks":                      s.handleAddCallback,
		"PATCH /system/callbacks/{id}":                s.handlePatchCallback,
		"GET /system/connectWiseHostedScreens":        s.handleHostedScreens,
		"GET /system/connectwisehostedsetups":         s.handleHostedSetups,
		"POST /system/connectwisehostedsetups":        s.handleAddHostedSetup,
		"DELETE /system/connectwisehostedsetups/{id}": s.handleDeleteHostedSetup,
	}
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) handleCallbacks(q *req) {
	s.mu.Lock()
	var recs []any
	for _, c := range s.setup.callbacks {
		recs = append(recs, c)
	}
	s.mu.Unlock()
	s.writeList(q, "CallbackEntry", recs)
}

// handleAddCallback serves POST /system/callbacks with ConnectWise's
// observed errors: a bad URL or level is 400 InvalidObject, a duplicate
// (same URL, type, level and object) 400 ObjectExists (reference §10.1).
func (s *Server) handleAddCallback(q *req) {
	var in struct {
		Description    string `json:"description"`
		URL            string `json:"url"`
		ObjectID       *int   `json:"objectId"`
		Type           string `json:"type"`
		Level          string `json:"level"`
		PayloadVersion string `json:"payloadVersion"`
		InactiveFlag   *bool  `json:"inactiveFlag"`
	}
	if err := json.Unmarshal(q.body, &in); err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "callbackEntry object is invalid", nil)
		return
	}
	invalid := func(field, msg string) {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "callbackEntry object is invalid",
			[]fieldError{{Code: "InvalidField", Message: msg, Resource: "callbackEntry", Field: field}})
	}
	if u, err := url.Parse(in.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		invalid("url", "Invalid URL")
		return
	}
	typ, level := strings.ToLower(in.Type), strings.ToLower(in.Level)
	levels, ok := callbackLevels[typ]
	if !ok {
		invalid("type", "The type "+in.Type+" is not recognized.")
		return
	}
	if !slices.Contains(levels, level) {
		invalid("level", "The level "+in.Level+" is not recognized for type "+in.Type+".")
		return
	}
	objectID := 0
	if in.ObjectID != nil {
		objectID = *in.ObjectID
	}
	if level == "owner" {
		objectID = 1 // ConnectWise answers objectId 1 for the owner level, whatever was sent
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.setup.callbacks {
		if c.URL == in.URL && strings.EqualFold(c.Type, typ) && strings.EqualFold(c.Level, level) && c.ObjectID == objectID {
			writeError(q.w, http.StatusBadRequest, "ObjectExists", "callbackEntry object already exists",
				[]fieldError{{Code: "ObjectExists", Message: "A callback with this url, type, level and objectId already exists.", Resource: "callbackEntry", Field: "objectId"}})
			return
		}
	}
	s.lastID++
	rec := callbackRec{ID: s.lastID, Description: in.Description, URL: in.URL, ObjectID: objectID, Type: typ, Level: level,
		MemberID: q.who.rec.ID, PayloadVersion: in.PayloadVersion, InactiveFlag: in.InactiveFlag != nil && *in.InactiveFlag,
		ConnectWiseID: newGUID(), Info: info{"lastUpdated": time.Now().UTC().Format(time.RFC3339), "updatedBy": q.who.rec.Identifier}}
	s.setup.callbacks = append(s.setup.callbacks, rec)
	s.writeJSONLocked(q, http.StatusCreated, "CallbackEntry", false, rec)
}

// handlePatchCallback serves PATCH /system/callbacks/{id}: operations
// add/replace/remove on fields of CallbackEntry; the fake applies
// inactiveFlag, url and description.
func (s *Server) handlePatchCallback(q *req) {
	id, ok := s.pathID(q, 2, "Callback")
	if !ok {
		return
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(q.body, &ops); err != nil || len(ops) == 0 {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "The patch operations are invalid.", nil)
		return
	}
	for _, op := range ops {
		field := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")[0]
		if !slices.Contains([]string{"add", "replace", "remove"}, op.Op) {
			s.violation("%s: patch op %q is not add, replace or remove", q.route, op.Op)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "The patch operation "+op.Op+" is not supported.", nil)
			return
		}
		if _, ok := s.contract.ModelField("CallbackEntry", field); !ok {
			s.violation("%s: patch path %q names no field of CallbackEntry", q.route, op.Path)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "The patch path "+op.Path+" is invalid.", nil)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.setup.callbacks {
		c := &s.setup.callbacks[i]
		if c.ID != id {
			continue
		}
		for _, op := range ops {
			switch strings.TrimPrefix(op.Path, "/") {
			case "inactiveFlag":
				var b bool
				if json.Unmarshal(op.Value, &b) != nil {
					writeError(q.w, http.StatusBadRequest, "InvalidObject", "inactiveFlag must be true or false.", nil)
					return
				}
				c.InactiveFlag = b
			case "url":
				_ = json.Unmarshal(op.Value, &c.URL)
			case "description":
				_ = json.Unmarshal(op.Value, &c.Description)
			}
		}
		s.writeJSONLocked(q, http.StatusOK, "CallbackEntry", false, *c)
		return
	}
	writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Callback %d not found", id), nil)
}

func (s *Server) hostedScreensLocked() []hostedScreenRec {
	if !s.setup.screensSet {
		s.setup.screens, s.setup.screensSet = defaultHostedScreens(), true
	}
	return s.setup.screens
}

func (s *Server) handleHostedScreens(q *req) {
	s.mu.Lock()
	var recs []any
	for _, sc := range s.hostedScreensLocked() {
		recs = append(recs, sc)
	}
	s.mu.Unlock()
	s.writeList(q, "ConnectWiseHostedScreen", recs)
}

func (s *Server) handleHostedSetups(q *req) {
	s.mu.Lock()
	var recs []any
	for _, h := range s.setup.setups {
		recs = append(recs, h)
	}
	s.mu.Unlock()
	s.writeList(q, "ConnectWiseHostedSetup", recs)
}

// handleAddHostedSetup serves POST /system/connectwisehostedsetups with the
// field limits of the setup table (reference §8.1) and a screenId from the
// hosted screens list.
func (s *Server) handleAddHostedSetup(q *req) {
	var in struct {
		ScreenID    *int   `json:"screenId"`
		Description string `json:"description"`
		URL         string `json:"url"`
		Type        string `json:"type"`
		Origin      string `json:"origin"`
	}
	if err := json.Unmarshal(q.body, &in); err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "connectWiseHostedSetup object is invalid", nil)
		return
	}
	invalid := func(field, msg string) {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "connectWiseHostedSetup object is invalid",
			[]fieldError{{Code: "InvalidField", Message: msg, Resource: "connectWiseHostedSetup", Field: field}})
	}
	switch {
	case strings.TrimSpace(in.Description) == "" || len(in.Description) > 50:
		invalid("description", "The description field is required and must be at most 50 characters.")
		return
	case strings.TrimSpace(in.URL) == "" || len(in.URL) > 1024:
		invalid("url", "The url field is required and must be at most 1024 characters.")
		return
	case len(in.Origin) > 100:
		invalid("origin", "The origin field must be at most 100 characters.")
		return
	case !slices.Contains([]string{"Pod", "Tab", "ToolbarButton"}, in.Type):
		invalid("type", "The type must be Pod, Tab or ToolbarButton.")
		return
	case in.ScreenID == nil:
		invalid("screenId", "The screenId field is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	for _, sc := range s.hostedScreensLocked() {
		known = known || sc.ID == *in.ScreenID
	}
	if !known {
		invalid("screenId", fmt.Sprintf("The screen %d is not valid.", *in.ScreenID))
		return
	}
	s.lastID++
	rec := hostedSetupRec{ID: s.lastID, ScreenID: *in.ScreenID, Description: in.Description, URL: in.URL, Type: in.Type,
		Origin: in.Origin, CreatedBy: q.who.rec.Identifier, DateCreated: time.Now().UTC().Format(time.RFC3339), Info: info{}}
	s.setup.setups = append(s.setup.setups, rec)
	s.writeJSONLocked(q, http.StatusCreated, "ConnectWiseHostedSetup", false, rec)
}

func (s *Server) handleDeleteHostedSetup(q *req) {
	id, ok := s.pathID(q, 2, "ConnectWiseHostedSetup")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.setup.setups {
		if h.ID == id {
			s.setup.setups = slices.Delete(s.setup.setups, i, i+1)
			q.w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("ConnectWiseHostedSetup %d not found", id), nil)
}

// handleCallbackKey serves GET /{codebase}//system/callbackkey/index.rails
// ?companyName=…&id=…, outside /apis/3.0 and the contract: the signing key
// behind a callback's key_url, as {"signing_key": "…"} (reference §10.4).
// It wants no credentials; an unknown company or id is a 404.
func (s *Server) handleCallbackKey(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.setup.keyFetches++
	key, ok := s.setup.keys[q.Get("id")]
	s.mu.Unlock()
	if !ok || !strings.EqualFold(q.Get("companyName"), s.company) {
		writeError(w, http.StatusNotFound, "NotFound", "The callback key was not found.", nil)
		return
	}
	b, _ := json.Marshal(map[string]string{"signing_key": key})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

// isCallbackKeyPath reports whether p is the callback key endpoint's path
// (ConnectWise writes it with a double slash after the codebase).
func isCallbackKeyPath(p string) bool {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return strings.HasSuffix(p, "/system/callbackkey/index.rails")
}

// CallbackEntry is a callback registration as the fake holds it.
type CallbackEntry struct {
	ID             int
	URL            string
	Type           string // lower case
	Level          string // lower case
	ObjectID       int
	Description    string
	PayloadVersion string
	Inactive       bool
}

// Callbacks returns the tenant's callback registrations, oldest first.
func (s *Server) Callbacks() []CallbackEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CallbackEntry
	for _, c := range s.setup.callbacks {
		out = append(out, CallbackEntry{ID: c.ID, URL: c.URL, Type: c.Type, Level: c.Level, ObjectID: c.ObjectID,
			Description: c.Description, PayloadVersion: c.PayloadVersion, Inactive: c.InactiveFlag})
	}
	return out
}

// DisableCallback marks registration id inactive, as ConnectWise does
// after three days of failed deliveries (reference §10.2).
func (s *Server) DisableCallback(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.setup.callbacks {
		if s.setup.callbacks[i].ID == id {
			s.setup.callbacks[i].InactiveFlag = true
		}
	}
}

// HostedSetup is a Manage Hosted API entry as the fake holds it.
type HostedSetup struct {
	ID          int
	ScreenID    int
	Description string
	URL         string
	Type        string
	Origin      string
}

// HostedSetups returns the tenant's Manage Hosted API entries, oldest
// first.
func (s *Server) HostedSetups() []HostedSetup {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []HostedSetup
	for _, h := range s.setup.setups {
		out = append(out, HostedSetup{ID: h.ID, ScreenID: h.ScreenID, Description: h.Description, URL: h.URL, Type: h.Type, Origin: h.Origin})
	}
	return out
}

// HostedScreen is a screen of GET /system/connectWiseHostedScreens.
type HostedScreen struct {
	ID       int
	ScreenID string
	Name     string
}

// SetHostedScreens replaces the screens the fake lists (by default
// Companies, Contacts, Service Tickets and Opportunities, ids 1–4).
func (s *Server) SetHostedScreens(screens ...HostedScreen) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setup.screens, s.setup.screensSet = nil, true
	for _, sc := range screens {
		s.setup.screens = append(s.setup.screens, hostedScreenRec{ID: sc.ID, ScreenID: sc.ScreenID, Name: sc.Name})
	}
}

// CallbackKeyURL returns the key_url of the fake's current signing key, as
// ConnectWise writes it: on the sign-in host, with a double slash after the
// codebase.
func (s *Server) CallbackKeyURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyURLLocked()
}

func (s *Server) keyURLLocked() string {
	if s.setup.keyID == "" {
		s.setup.keyID = newGUID()
		if s.setup.keys == nil {
			s.setup.keys = map[string]string{}
		}
		s.setup.keys[s.setup.keyID] = "cwtest-signing-key-" + newGUID()
	}
	return "https://" + s.site + "/" + s.codebase + "/system/callbackkey/index.rails?companyName=" +
		url.QueryEscape(s.company) + "&id=" + s.setup.keyID
}

// RotateCallbackKey gives the current key URL a new signing key, as when
// ConnectWise rotates it.
func (s *Server) RotateCallbackKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyURLLocked()
	s.setup.keys[s.setup.keyID] = "cwtest-signing-key-" + newGUID()
}

// KeyFetches returns how many times the callback key endpoint was asked.
func (s *Server) KeyFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setup.keyFetches
}

// Callback is a callback message as ConnectWise posts it.
type Callback struct {
	Body      []byte // the raw JSON
	Signature string // the x-content-signature header
}

// SignedCallback returns a callback about record id of recordType
// ("ticket") with action ("added", "updated", "deleted"), shaped as
// reference §10.3 shows — PascalCase keys, Entity a JSON string (null on
// deleted), Metadata.key_url pointing at the fake — and signed with the
// fake's current key.
func (s *Server) SignedCallback(action, recordType string, id int, entity any) Callback {
	s.mu.Lock()
	keyURL := s.keyURLLocked()
	key := s.setup.keys[s.setup.keyID]
	recID := 0
	for _, c := range s.setup.callbacks {
		if c.Type == recordType {
			recID = c.ID
		}
	}
	s.mu.Unlock()
	var ent any
	if action != "deleted" {
		b, err := json.Marshal(entity)
		if err != nil {
			s.t.Fatalf("cwtest: callback entity: %v", err)
		}
		ent = string(b)
	}
	body, err := json.Marshal(map[string]any{
		"MessageId": newGUID(), "FromUrl": s.site, "CompanyId": s.company, "MemberId": "countersign-api",
		"Action": action, "Type": recordType, "ID": id, "ProductInstanceId": newGUID(), "PartnerId": newGUID(),
		"Entity": ent, "Metadata": map[string]string{"key_url": keyURL}, "CallbackObjectRecId": recID,
	})
	if err != nil {
		s.t.Fatalf("cwtest: callback: %v", err)
	}
	return Callback{Body: body, Signature: connectwise.SignCallback(key, body)}
}

// Sign signs body with the fake's current key, for tests that build their
// own payloads.
func (s *Server) Sign(body []byte) string {
	s.mu.Lock()
	s.keyURLLocked()
	key := s.setup.keys[s.setup.keyID]
	s.mu.Unlock()
	return connectwise.SignCallback(key, body)
}
