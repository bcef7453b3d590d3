package halotest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// defaultPageSize is the fake's largest page.
const defaultPageSize = 1000

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	route := r.URL.Path
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, Request{Method: r.Method, Route: route, Query: r.URL.RawQuery, Status: rec.status})
		s.mu.Unlock()
	}()
	w = rec
	if s.Down() {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "<html><body><h1>Service Unavailable</h1></body></html>")
		return
	}
	p := r.URL.Path
	switch {
	case strings.EqualFold(p, "/auth/token"):
		route = "POST /auth/token"
		if s.tokenFailed(w) {
			return
		}
		s.handleToken(w, r)
	case strings.EqualFold(p, "/auth/authorize"):
		route = r.Method + " /auth/authorize"
		s.handleAuthorize(w, r)
	case strings.EqualFold(p, "/api/authinfo"):
		route = "GET /AuthInfo"
		s.handleAuthInfo(w, r)
	case len(p) >= 5 && strings.EqualFold(p[:5], "/api/"):
		s.handleAPI(w, r, p[4:], &route)
	default:
		s.mu.Lock()
		page, ok := s.pages[p]
		s.mu.Unlock()
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// tokenFailed counts a token request and answers it with the FailToken
// status when one is due, in OAuth2's error shape.
func (s *Server) tokenFailed(w http.ResponseWriter) bool {
	s.mu.Lock()
	s.tokenReqs++
	if s.tokFailN <= 0 {
		s.mu.Unlock()
		return false
	}
	s.tokFailN--
	code, after := s.tokFailCode, s.tokFailAfter
	s.mu.Unlock()
	if after != "" {
		w.Header().Set("Retry-After", after)
	}
	switch code {
	case http.StatusBadRequest, http.StatusUnauthorized:
		oauthError(w, code, "invalid_client", "The specified client credentials are invalid.")
	default:
		http.Error(w, http.StatusText(code), code)
	}
	return true
}

// answer writes v as JSON, truncated when MalformedNext asked for it.
func (s *Server) answer(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	b = s.Body(b)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// ---------------------------------------------------------------------------
// The authorisation server.

func (s *Server) handleAuthInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	off := s.noAuthInfo
	s.mu.Unlock()
	if r.Method != http.MethodGet || off {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"auth_url": s.URL() + "/auth", "tenant_id": s.tenant})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be form-encoded")
		return
	}
	if got := r.URL.Query().Get("tenant"); got != s.tenant {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unknown tenant")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	if r.Header.Get("Authorization") != "" {
		s.violations.Add("token request with an Authorization header: Halo takes client_id and client_secret in the form")
	}
	status, resp := s.grant(f)
	writeJSON(w, status, resp)
}

// grant answers a token request's form: the token, or an OAuth2 error.
func (s *Server) grant(f url.Values) (int, map[string]any) {
	bad := func(code, desc string) (int, map[string]any) {
		return http.StatusBadRequest, map[string]any{"error": code, "error_description": desc}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	issue := func(t tokenRec, scope string) (int, map[string]any) {
		tok := randomToken()
		s.tokens[tok] = t
		return http.StatusOK, map[string]any{"token_type": "Bearer", "access_token": tok, "expires_in": int(s.tokenLife / time.Second), "scope": scope}
	}
	switch f.Get("grant_type") {
	case "client_credentials":
		if f.Get("client_id") != ClientID || f.Get("client_secret") != ClientSecret || s.rejectKeys {
			return bad("invalid_client", "The specified client credentials are invalid.")
		}
		scope := f.Get("scope")
		if scope == "" {
			scope = "all"
		}
		return issue(tokenRec{agent: s.apiAgent, expires: now.Add(s.tokenLife), service: true}, scope)
	case "authorization_code":
		code := f.Get("code")
		c, ok := s.codes[code]
		delete(s.codes, code) // single use
		verifier := f.Get("code_verifier")
		sum := sha256.Sum256([]byte(verifier))
		switch {
		case f.Get("client_id") != AgentClientID:
			return bad("invalid_client", "The specified client is unknown.")
		case !ok || now.After(c.expires) || c.clientID != f.Get("client_id"):
			return bad("invalid_grant", "The specified authorization code is invalid.")
		case c.redirectURI != f.Get("redirect_uri"):
			return bad("invalid_grant", "The specified redirect_uri does not match.")
		case len(verifier) < 43 || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
			return bad("invalid_grant", "The specified code verifier is invalid.")
		}
		return issue(tokenRec{agent: c.agent, expires: now.Add(s.tokenLife)}, "all")
	}
	return bad("unsupported_grant_type", "The specified grant_type is not supported.")
}

var authorizePage = template.Must(template.New("authorize").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Halo sign in</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}label,select,button{display:block;margin:.5rem 0;font-size:1rem}</style></head>
<body><h1>Sign in to Halo</h1>
<form method="post" action="/auth/authorize">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label for="agent">Agent</label>
<select id="agent" name="agent_id">{{range .Agents}}<option value="{{.ID}}">{{.Name}}</option>{{end}}</select>
<button id="halo-sign-in" type="submit">Sign in</button>
</form></body></html>`))

// handleAuthorize is the agent sign-in: GET shows the page (or, under
// AutoApprove, signs in at once), POST issues a code and redirects.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	q := r.Form
	params := map[string]string{}
	for _, k := range []string{"tenant", "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"} {
		params[k] = q.Get(k)
	}
	s.mu.Lock()
	redirectOK := slices.Contains(s.redirects, params["redirect_uri"])
	auto := s.autoApprove
	agents := []agentRec{}
	for _, a := range s.agents {
		if a.ID != s.apiAgent && !a.Disabled {
			agents = append(agents, a)
		}
	}
	s.mu.Unlock()
	switch {
	case params["client_id"] != AgentClientID:
		http.Error(w, "Unknown application", http.StatusBadRequest)
		return
	case !redirectOK:
		http.Error(w, "The redirect URL is not a Login Redirect URL of this application", http.StatusBadRequest)
		return
	case params["tenant"] != s.tenant:
		http.Error(w, "Unknown tenant", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(params["redirect_uri"])
	fail := func(code string) {
		v := back.Query()
		v.Set("error", code)
		v.Set("state", params["state"])
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	if params["response_type"] != "code" {
		fail("unsupported_response_type")
		return
	}
	if params["code_challenge_method"] != "S256" || len(params["code_challenge"]) != 43 {
		fail("invalid_request")
		return
	}
	agent := 0
	switch {
	case r.Method == http.MethodPost:
		agent, _ = strconv.Atoi(q.Get("agent_id"))
	case auto != 0:
		agent = auto
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = authorizePage.Execute(w, map[string]any{"Params": params, "Agents": agents})
		return
	}
	if !slices.ContainsFunc(agents, func(a agentRec) bool { return a.ID == agent }) {
		fail("access_denied")
		return
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = codeRec{clientID: params["client_id"], redirectURI: params["redirect_uri"], challenge: params["code_challenge"],
		agent: agent, expires: s.now().Add(time.Minute)}
	s.mu.Unlock()
	v := back.Query()
	v.Set("code", code)
	v.Set("state", params["state"])
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// ---------------------------------------------------------------------------
// The resource server.

// apiRequest is one API request being served.
type apiRequest struct {
	r      *http.Request
	op     *Operation
	params []string
	body   []byte
	agent  int // whose token
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request, path string, route *string) {
	op, params, other := s.contract.Match(r.Method, path)
	fl, ok := s.Begin()
	if !ok && r.Method != http.MethodGet {
		fl, ok = s.writeFailure()
	}
	if ok {
		if op != nil {
			*route = op.Method + " " + op.Path
		}
		fl.Write(w, func(w http.ResponseWriter, status int) { http.Error(w, http.StatusText(status), status) })
		return
	}
	if op == nil {
		if other {
			s.violations.Add("%s %s: the contract has that path under another method", r.Method, path)
		} else {
			s.violations.Add("%s %s is not in the Halo contract", r.Method, path)
		}
		http.NotFound(w, r)
		return
	}
	*route = op.Method + " " + op.Path
	body, ok := s.readAPIRequest(w, r, op, *route)
	if !ok {
		return
	}
	agent, ok := s.authorizeAPI(w, r, *route)
	if !ok {
		return
	}
	s.dispatchAPI(w, *route, &apiRequest{r: r, op: op, params: params, body: body, agent: agent})
}

// readAPIRequest holds the query and body to the operation's contract
// and returns the body; a violation is recorded and refused.
func (s *Server) readAPIRequest(w http.ResponseWriter, r *http.Request, op *Operation, route string) ([]byte, bool) {
	if err := op.CheckQuery(r.URL.Query()); err != nil {
		s.violations.Add("%s: %v", route, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "bad body", 400)
		return nil, false
	}
	if err := s.contract.CheckBody(op, body); err != nil {
		s.violations.Add("%s: %v", route, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// authorizeAPI checks the bearer token and that its agent may use route,
// and returns the agent.
func (s *Server) authorizeAPI(w http.ResponseWriter, r *http.Request, route string) (int, bool) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	s.mu.Lock()
	t, known := s.tokens[tok]
	now := s.now()
	forbidden := s.forbidden[strings.ToLower(route)]
	s.mu.Unlock()
	if !ok || !known || !now.Before(t.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return 0, false
	}
	if forbidden {
		http.Error(w, "You do not have permission to access this resource", http.StatusForbidden)
		return 0, false
	}
	return t.agent, true
}

// dispatchAPI answers an admitted request with route's handler.
func (s *Server) dispatchAPI(w http.ResponseWriter, route string, ar *apiRequest) {
	switch route {
	case "GET /Users":
		s.listUsers(w, ar)
	case "GET /Users/{id}":
		s.getUser(w, ar)
	case "POST /Users":
		s.postUsers(w, ar)
	case "GET /Client":
		s.listClients(w, ar)
	case "GET /Client/{id}":
		s.getClient(w, ar)
	case "GET /Site":
		s.listSites(w, ar)
	case "GET /Site/{id}":
		s.getSite(w, ar)
	case "GET /Tickets":
		s.listTickets(w, ar)
	case "GET /Tickets/{id}":
		s.getTicket(w, ar)
	case "POST /Tickets":
		s.postTickets(w, ar)
	case "POST /CRMNote":
		s.postCRMNotes(w, ar)
	case "GET /Actions":
		s.listActions(w, ar)
	case "POST /Actions":
		s.postActions(w, ar)
	case "GET /Agent":
		s.listAgents(w, ar)
	case "GET /Agent/me":
		s.agentMe(w, ar)
	case "GET /Agent/{id}":
		s.getAgent(w, ar)
	case "GET /Outcome":
		s.listOutcomes(w, ar)
	case "GET /Tabs":
		s.listStored(w, &s.tabs)
	case "POST /Tabs":
		s.postStored(w, ar, &s.tabs, "Tabname")
	case "GET /Webhook":
		s.listStored(w, &s.webhooks)
	case "POST /Webhook":
		s.postStored(w, ar, &s.webhooks, "Webhook")
	default:
		http.Error(w, "the fake does not implement "+route, http.StatusNotImplemented)
	}
}

// record checks the fake's own answer against schema, so that it sends
// only fields Halo declares.
func (s *Server) record(schema string, m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	if err := s.contract.CheckObject(schema, b, schema); err != nil {
		s.violations.Add("the fake's own answer: %v", err)
	}
	return m
}

// page applies Halo's paging to n records: without pageinate, count caps
// the list; with it, page_size (capped by the fake) and page_no pick one
// page. It returns the slice bounds and the wrapper's paging fields.
func (s *Server) page(q url.Values, n int) (lo, hi int, wrap map[string]any) {
	s.mu.Lock()
	cap := s.pageSize
	s.mu.Unlock()
	if cap <= 0 {
		cap = defaultPageSize
	}
	wrap = map[string]any{"record_count": n}
	if q.Get("pageinate") != "true" {
		hi = n
		if c, err := strconv.Atoi(q.Get("count")); err == nil && c >= 0 && c < hi {
			hi = c
		}
		return 0, min(hi, max(cap, hi)), wrap
	}
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size <= 0 {
		size = 50
	}
	size = min(size, cap)
	no, err := strconv.Atoi(q.Get("page_no"))
	if err != nil || no < 1 {
		no = 1
	}
	lo = min((no-1)*size, n)
	hi = min(lo+size, n)
	wrap["page_no"], wrap["page_size"] = no, size
	return lo, hi, wrap
}

func like(hay, needle string) bool {
	return needle != "" && strings.Contains(strings.ToLower(hay), strings.ToLower(needle))
}

func (s *Server) userJSON(u userRec) map[string]any {
	m := map[string]any{
		"id": u.ID, "name": u.name(), "firstname": u.FirstName, "surname": u.Surname,
		"client_id": u.ClientID, "client_name": u.ClientName, "site_name": u.SiteName,
		// site_id is a double in the contract, and Halo writes it so.
		"site_id":     json.RawMessage(strconv.Itoa(u.SiteID) + ".0"),
		"site_id_int": u.SiteID, "inactive": u.Inactive,
	}
	for k, v := range map[string]string{"title": u.Title, "emailaddress": u.Email, "email2": u.Email2, "email3": u.Email3,
		"phonenumber": u.Phone, "homenumber": u.Home, "mobilenumber": u.Mobile, "mobilenumber2": u.Mobile2} {
		if v != "" { // list and detail answers leave out empty fields
			m[k] = v
		}
	}
	return s.record("Users", m)
}

func (s *Server) listUsers(w http.ResponseWriter, ar *apiRequest) {
	q := ar.r.URL.Query()
	search, phones := q.Get("search"), q.Get("search_phonenumbers") == "true"
	client, _ := strconv.Atoi(q.Get("client_id"))
	inactive := q.Get("includeinactive") == "true"
	s.mu.Lock()
	var hits []userRec
	for _, u := range s.users {
		if (client != 0 && u.ClientID != client) || (u.Inactive && !inactive) {
			continue
		}
		if search != "" {
			ok := like(u.name(), search) || like(u.FirstName, search) || like(u.Surname, search) ||
				like(u.Email, search) || like(u.Email2, search) || like(u.Email3, search)
			if phones {
				ok = ok || like(u.Phone, search) || like(u.Home, search) || like(u.Mobile, search) || like(u.Mobile2, search)
			}
			if !ok {
				continue
			}
		}
		hits = append(hits, u)
	}
	s.mu.Unlock()
	lo, hi, wrap := s.page(q, len(hits))
	items := []map[string]any{}
	for _, u := range hits[lo:hi] {
		items = append(items, s.userJSON(u))
	}
	wrap["users"] = items
	s.answer(w, http.StatusOK, wrap)
}

func (s *Server) getUser(w http.ResponseWriter, ar *apiRequest) {
	id, _ := strconv.Atoi(ar.params[0])
	s.mu.Lock()
	var found *userRec
	for i := range s.users {
		if s.users[i].ID == id {
			u := s.users[i]
			found = &u
		}
	}
	s.mu.Unlock()
	if found == nil {
		http.Error(w, "User not found", http.StatusNotFound)
		return
	}
	s.answer(w, http.StatusOK, s.userJSON(*found))
}

func (s *Server) postUsers(w http.ResponseWriter, ar *apiRequest) {
	var in []map[string]json.RawMessage
	_ = json.Unmarshal(ar.body, &in)
	var out []map[string]any
	for _, m := range in {
		str := func(k string) string {
			var v string
			_ = json.Unmarshal(m[k], &v)
			return v
		}
		num := func(k string) int {
			var f float64
			_ = json.Unmarshal(m[k], &f)
			return int(f)
		}
		u := userRec{FirstName: str("firstname"), Surname: str("surname"), Title: str("title"), Email: str("emailaddress"),
			Email2: str("email2"), Email3: str("email3"), Phone: str("phonenumber"), Home: str("homenumber"),
			Mobile: str("mobilenumber"), Mobile2: str("mobilenumber2"), ClientID: num("client_id"), SiteID: num("site_id")}
		if _, update := m["id"]; update {
			rec, status, msg := s.updateUser(m)
			if status != 0 {
				http.Error(w, msg, status)
				return
			}
			out = append(out, s.userJSON(rec))
			continue
		}
		s.mu.Lock()
		var ok bool
		for _, st := range s.sites {
			if st.ID == u.SiteID && st.ClientID == u.ClientID {
				ok = true
				u.ClientName, u.SiteName = st.ClientName, st.Name
			}
		}
		if !ok {
			s.mu.Unlock()
			http.Error(w, "Please select a valid Site", http.StatusBadRequest)
			return
		}
		s.lastID++
		u.ID = s.lastID
		s.users = append(s.users, u)
		s.mu.Unlock()
		out = append(out, s.userJSON(u))
	}
	s.answerPosted(w, out)
}

func (s *Server) answerPosted(w http.ResponseWriter, out []map[string]any) {
	s.mu.Lock()
	arrays := s.postArrays
	s.mu.Unlock()
	if arrays || len(out) != 1 {
		s.answer(w, http.StatusCreated, out)
		return
	}
	s.answer(w, http.StatusCreated, out[0])
}

func (s *Server) clientJSON(c clientRec) map[string]any {
	return s.record("Area", map[string]any{"id": c.ID, "name": c.Name, "inactive": c.Inactive, "main_site_id": c.MainSiteID, "toplevel_id": 1})
}

func (s *Server) listClients(w http.ResponseWriter, ar *apiRequest) {
	q := ar.r.URL.Query()
	s.mu.Lock()
	var hits []clientRec
	for _, c := range s.clients {
		if (c.Inactive && q.Get("includeinactive") != "true") || (q.Get("search") != "" && !like(c.Name, q.Get("search"))) {
			continue
		}
		hits = append(hits, c)
	}
	s.mu.Unlock()
	lo, hi, wrap := s.page(q, len(hits))
	items := []map[string]any{}
	for _, c := range hits[lo:hi] {
		items = append(items, s.clientJSON(c))
	}
	wrap["clients"] = items
	s.answer(w, http.StatusOK, wrap)
}

func (s *Server) getClient(w http.ResponseWriter, ar *apiRequest) {
	id, _ := strconv.Atoi(ar.params[0])
	s.mu.Lock()
	idx := slices.IndexFunc(s.clients, func(c clientRec) bool { return c.ID == id })
	var c clientRec
	if idx >= 0 {
		c = s.clients[idx]
	}
	s.mu.Unlock()
	if idx < 0 {
		http.Error(w, "Client not found", http.StatusNotFound)
		return
	}
	s.answer(w, http.StatusOK, s.clientJSON(c))
}

func (s *Server) listSites(w http.ResponseWriter, ar *apiRequest) {
	q := ar.r.URL.Query()
	client, _ := strconv.Atoi(q.Get("client_id"))
	s.mu.Lock()
	var hits []siteRec
	for _, st := range s.sites {
		if client == 0 || st.ClientID == client {
			hits = append(hits, st)
		}
	}
	s.mu.Unlock()
	lo, hi, wrap := s.page(q, len(hits))
	items := []map[string]any{}
	for _, st := range hits[lo:hi] {
		items = append(items, s.record("Site", map[string]any{"id": st.ID, "name": st.Name, "client_id": st.ClientID, "client_name": st.ClientName}))
	}
	wrap["sites"] = items
	s.answer(w, http.StatusOK, wrap)
}

func (s *Server) ticketJSON(t ticketRec) map[string]any {
	s.mu.Lock()
	m := map[string]any{"id": t.ID, "summary": t.Summary, "status_id": t.StatusID, "status_name": t.StatusName,
		"tickettype_id": t.TypeID, "client_id": t.ClientID, "site_id": t.SiteID, "user_id": t.UserID}
	if t.Details != "" {
		m["details"] = t.Details
	}
	for _, c := range s.clients {
		if c.ID == t.ClientID {
			m["client_name"] = c.Name
		}
	}
	for _, u := range s.users {
		if u.ID == t.UserID {
			// The ticket's own, editable copies of the user's details.
			m["user_name"], m["user_email"] = u.name(), u.Email
		}
	}
	s.mu.Unlock()
	return s.record("Faults", m)
}

func (s *Server) findTicket(id int) (ticketRec, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickets {
		if t.ID == id {
			return t, true
		}
	}
	return ticketRec{}, false
}

func (s *Server) listTickets(w http.ResponseWriter, ar *apiRequest) {
	q := ar.r.URL.Query()
	client, _ := strconv.Atoi(q.Get("client_id"))
	s.mu.Lock()
	var hits []ticketRec
	for _, t := range s.tickets {
		if client == 0 || t.ClientID == client {
			hits = append(hits, t)
		}
	}
	s.mu.Unlock()
	lo, hi, wrap := s.page(q, len(hits))
	items := []map[string]any{}
	for _, t := range hits[lo:hi] {
		items = append(items, s.ticketJSON(t))
	}
	wrap["tickets"] = items
	s.answer(w, http.StatusOK, wrap)
}

func (s *Server) getTicket(w http.ResponseWriter, ar *apiRequest) {
	id, _ := strconv.Atoi(ar.params[0])
	t, ok := s.findTicket(id)
	if !ok {
		http.Error(w, "Ticket not found", http.StatusNotFound)
		return
	}
	s.answer(w, http.StatusOK, s.ticketJSON(t))
}

func (s *Server) actionJSON(a actionRec) map[string]any {
	m := map[string]any{"id": a.ID, "ticket_id": a.TicketID, "outcome": a.Outcome, "outcome_id": a.OutcomeID, "note": a.Note,
		"datetime": a.At.UTC().Format("2006-01-02T15:04:05.000Z")}
	if a.HiddenFromUser != nil {
		m["hiddenfromuser"] = *a.HiddenFromUser
	}
	return s.record("Actions", m)
}

func (s *Server) listActions(w http.ResponseWriter, ar *apiRequest) {
	q := ar.r.URL.Query()
	ticket, _ := strconv.Atoi(q.Get("ticket_id"))
	s.mu.Lock()
	var hits []actionRec
	for _, a := range s.actions {
		if ticket == 0 || a.TicketID == ticket {
			hits = append(hits, a)
		}
	}
	s.mu.Unlock()
	lo, hi, wrap := s.page(q, len(hits))
	items := []map[string]any{}
	for _, a := range hits[lo:hi] {
		items = append(items, s.actionJSON(a))
	}
	wrap["actions"] = items
	s.answer(w, http.StatusOK, wrap)
}

func (s *Server) postActions(w http.ResponseWriter, ar *apiRequest) {
	var in []map[string]json.RawMessage
	_ = json.Unmarshal(ar.body, &in)
	var out []map[string]any
	for _, m := range in {
		var a actionRec
		for k := range m {
			a.Keys = append(a.Keys, k)
		}
		slices.Sort(a.Keys)
		_ = json.Unmarshal(m["ticket_id"], &a.TicketID)
		_ = json.Unmarshal(m["outcome_id"], &a.OutcomeID)
		_ = json.Unmarshal(m["outcome"], &a.Outcome)
		_ = json.Unmarshal(m["note"], &a.Note)
		_ = json.Unmarshal(m["note_html"], &a.NoteHTML)
		for k, dst := range map[string]**bool{"hiddenfromuser": &a.HiddenFromUser, "sendemail": &a.SendEmail} {
			if raw, ok := m[k]; ok && !bytes.Equal(raw, []byte("null")) {
				var b bool
				_ = json.Unmarshal(raw, &b)
				*dst = &b
			}
		}
		if raw, ok := m["new_status"]; ok && !bytes.Equal(raw, []byte("null")) {
			var n int
			_ = json.Unmarshal(raw, &n)
			a.NewStatus = &n
		}
		if _, ok := s.findTicket(a.TicketID); !ok || a.TicketID == 0 {
			http.Error(w, "Ticket not found", http.StatusNotFound)
			return
		}
		if _, update := m["id"]; update {
			http.Error(w, "the fake does not update actions", http.StatusNotImplemented)
			return
		}
		s.mu.Lock()
		known := false
		for _, o := range s.outcomes {
			if (a.OutcomeID != 0 && o.ID == a.OutcomeID) || (a.OutcomeID == 0 && a.Outcome != "" && strings.EqualFold(o.Outcome, a.Outcome)) {
				known, a.OutcomeID, a.Outcome = true, o.ID, o.Outcome
			}
		}
		if !known || s.noAccess[a.OutcomeID] {
			s.mu.Unlock()
			http.Error(w, "You do not have access to this Action", http.StatusBadRequest)
			return
		}
		if a.NoteHTML != "" && a.Note == "" {
			a.Note = a.NoteHTML
		}
		s.lastID++
		a.ID, a.At = s.lastID, s.now()
		s.actions = append(s.actions, a)
		if a.NewStatus != nil {
			for i := range s.tickets {
				if s.tickets[i].ID == a.TicketID {
					s.tickets[i].StatusID = *a.NewStatus
				}
			}
		}
		s.mu.Unlock()
		out = append(out, s.actionJSON(a))
	}
	s.answerPosted(w, out)
}

func (s *Server) agentJSON(a agentRec) map[string]any {
	m := map[string]any{"id": a.ID, "name": a.Name, "firstname": a.FirstName, "surname": a.Surname,
		"email": a.Email, "isdisabled": a.Disabled, "isapiagent": a.API, "initials": initials(a.Name)}
	if a.SMS != "" {
		m["sms"] = a.SMS
	}
	return s.record("Uname", m)
}

func initials(name string) string {
	var b strings.Builder
	for _, f := range strings.Fields(name) {
		b.WriteString(strings.ToUpper(f[:1]))
	}
	return b.String()
}

func (s *Server) listAgents(w http.ResponseWriter, ar *apiRequest) {
	search := ar.r.URL.Query().Get("search")
	s.mu.Lock()
	agents := slices.Clone(s.agents)
	s.mu.Unlock()
	out := []map[string]any{} // a bare array, unlike every other list
	for _, a := range agents {
		if search == "" || like(a.Name, search) || like(a.Email, search) {
			out = append(out, s.agentJSON(a))
		}
	}
	s.answer(w, http.StatusOK, out)
}

func (s *Server) agentByID(id int) (agentRec, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.agents {
		if a.ID == id {
			return a, true
		}
	}
	return agentRec{}, false
}

func (s *Server) agentMe(w http.ResponseWriter, ar *apiRequest) {
	a, ok := s.agentByID(ar.agent)
	if !ok {
		http.Error(w, "Agent not found", http.StatusNotFound)
		return
	}
	s.answer(w, http.StatusOK, s.agentJSON(a))
}

func (s *Server) getAgent(w http.ResponseWriter, ar *apiRequest) {
	id, _ := strconv.Atoi(ar.params[0])
	a, ok := s.agentByID(id)
	if !ok {
		http.Error(w, "Agent not found", http.StatusNotFound)
		return
	}
	s.answer(w, http.StatusOK, s.agentJSON(a))
}

func (s *Server) listOutcomes(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	outs := slices.Clone(s.outcomes)
	s.mu.Unlock()
	out := []map[string]any{}
	for _, o := range outs {
		out = append(out, s.record("TOutcome", map[string]any{"id": o.ID, "outcome": o.Outcome}))
	}
	s.answer(w, http.StatusOK, out)
}

func (s *Server) listStored(w http.ResponseWriter, list *[]map[string]any) {
	s.mu.Lock()
	out := append([]map[string]any{}, *list...)
	s.mu.Unlock()
	s.answer(w, http.StatusOK, out)
}

// postStored saves custom tabs and webhooks as sent, with an id: an
// integer for tabs, a uuid for webhooks (as their schemas declare).
func (s *Server) postStored(w http.ResponseWriter, ar *apiRequest, list *[]map[string]any, schema string) {
	var in []map[string]any
	_ = json.Unmarshal(ar.body, &in)
	var out []map[string]any
	s.mu.Lock()
	for _, m := range in {
		if id, update := m["id"]; update {
			// An update: the stored record with the fields sent.
			found := false
			for _, old := range *list {
				if fmt.Sprint(old["id"]) == fmt.Sprint(id) {
					for k, v := range m {
						old[k] = v
					}
					m, found = old, true
				}
			}
			if !found {
				s.mu.Unlock()
				http.Error(w, "Record not found", http.StatusNotFound)
				return
			}
		} else {
			s.lastID++
			if schema == "Webhook" {
				var b [16]byte
				_, _ = rand.Read(b[:])
				h := hex.EncodeToString(b[:])
				m["id"] = fmt.Sprintf("%s-%s-4%s-a%s-%s", h[:8], h[8:12], h[13:16], h[17:20], h[20:32])
			} else {
				m["id"] = s.lastID
			}
			*list = append(*list, m)
		}
		out = append(out, m)
	}
	s.mu.Unlock()
	for _, m := range out {
		s.record(schema, m)
	}
	s.answerPosted(w, out)
}
