// Package twiliotest is a loopback fake of the Twilio REST endpoints
// Countersign calls: Messages.json (SMS) and Calls.json (voice), and the
// account and IncomingPhoneNumbers.json reads of the settings check.
//
// The fake accepts only what Twilio's contract allows (channels.md §1): HTTP
// Basic credentials, the account in the path, form encoding, E.164 numbers,
// body and TwiML limits. It answers with Twilio's JSON shapes, including its
// error shape, so the real twilio-go library runs end to end against it
// through [Server.HTTPClient]. Every accepted message and call is recorded.
//
// Set knob fields before [Server.Start]; while the server runs, change them
// only through methods ([Server.Unsubscribe], [Server.FailWith],
// [Server.FailNext], [Server.SetAuthToken], [Server.SetAPIKey]).
package twiliotest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default credentials, alphanumeric as twilio-go requires.
const (
	DefaultAccountSID = "ACtest"
	DefaultAuthToken  = "token123"
)

// Server is a fake Twilio REST API. Its methods are safe for concurrent use.
type Server struct {
	// AccountSID is the only account the fake serves; "" means DefaultAccountSID.
	AccountSID string
	// AuthToken is the password for AccountSID; "" means DefaultAuthToken.
	AuthToken string
	// APIKeys maps API key SIDs ("SK…") to secrets accepted as credentials
	// for AccountSID; nil means auth-token credentials only.
	APIKeys map[string]string
	// Unsubscribed holds numbers that texted STOP: SMS to them fail with
	// 21610. nil means none. Use Unsubscribe once the server runs.
	Unsubscribed map[string]bool
	// Errors maps a To number to a Twilio error code every send to it fails
	// with (HTTP 400), e.g. 21614 or 21408. nil means none.
	Errors map[string]int
	// AccountStatus is what GET …/Accounts/{sid}.json reports: "active"
	// (""), "suspended" or "closed".
	AccountStatus string
	// Numbers are the account's phone numbers (IncomingPhoneNumbers.json);
	// nil means every number asked about is the account's, with SMS and
	// voice. NoSMS lists numbers among them that cannot send SMS.
	Numbers []string
	NoSMS   map[string]bool

	srv       *httptest.Server
	transport *http.Transport

	mu       sync.Mutex
	requests int // every request the fake answered
	failN    int
	failCode int
	messages []Message
	calls    []Call
	changed  chan struct{} // closed and replaced whenever a record is added
}

// Message is an SMS the fake accepted.
type Message struct {
	Sid                 string
	AccountSID          string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	ValidityPeriod      int // seconds; 0 when not sent
	StatusCallback      string
	ShortenURLs         string     // raw ShortenUrls value; "" when not sent
	Form                url.Values // everything that was posted
	Received            time.Time
}

// Call is a call the fake accepted.
type Call struct {
	Sid                  string
	AccountSID           string
	To                   string
	From                 string
	Twiml                string
	URL                  string
	Timeout              int // seconds; 0 when not sent
	TimeLimit            int // seconds; 0 when not sent
	StatusCallback       string
	StatusCallbackEvents []string
	Form                 url.Values
	Received             time.Time
}

// New starts a Server with default knobs and closes it when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.Start(t)
	return s
}

// Start starts s on a loopback port and registers its Close with t.Cleanup.
// Set knob fields before calling it.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if s.AccountSID == "" {
		s.AccountSID = DefaultAccountSID
	}
	if s.AuthToken == "" {
		s.AuthToken = DefaultAuthToken
	}
	s.changed = make(chan struct{})
	s.APIKeys = cloneStrings(s.APIKeys)
	s.Unsubscribed = cloneSet(s.Unsubscribed)
	s.Errors = cloneMap(s.Errors)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(s.Close)
}

// Close stops the server.
func (s *Server) Close() {
	s.srv.Close()
	s.transport.CloseIdleConnections()
}

// URL returns the server's base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.srv.URL }

// HTTPClient returns a client that sends every request, whatever its URL
// (https://api.twilio.com/…), to the fake (channels.md §1.7 Option A). Like
// twilio-go's default client it does not follow redirects.
func (s *Server) HTTPClient() *http.Client {
	target, _ := url.Parse(s.srv.URL)
	return &http.Client{
		Transport:     rewriteTransport{target: target, next: s.transport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

type rewriteTransport struct {
	target *url.URL
	next   http.RoundTripper
}

func (t rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.target.Scheme, t.target.Host, t.target.Host
	return t.next.RoundTrip(r)
}

// Unsubscribe makes SMS to numbers fail with 21610, as after the recipient
// texted STOP.
func (s *Server) Unsubscribe(numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		s.Unsubscribed[n] = true
	}
}

// FailWith makes every send to number fail with Twilio error code (HTTP
// 400); code 0 removes the failure.
func (s *Server) FailWith(number string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.Errors, number)
		return
	}
	s.Errors[number] = code
}

// FailNext makes the next n requests fail with HTTP status (500, 503, 429, …)
// before any other check, as an outage or rate limit would.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, status
}

// Messages returns every accepted SMS, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Calls returns every accepted call, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// LastMessageTo returns the most recent SMS to to, and whether there is one.
func (s *Server) LastMessageTo(to string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		if s.messages[i].To == to {
			return s.messages[i], true
		}
	}
	return Message{}, false
}

// LastCallTo returns the most recent call to to, and whether there is one.
func (s *Server) LastCallTo(to string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if s.calls[i].To == to {
			return s.calls[i], true
		}
	}
	return Call{}, false
}

// WaitForMessage returns the most recent SMS to to, waiting for one to
// arrive if there is none yet, until ctx ends. Tests that send
// asynchronously (through the outbox) use it to read the code.
func (s *Server) WaitForMessage(ctx context.Context, to string) (Message, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if m, ok := s.LastMessageTo(to); ok {
			return m, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("twiliotest: wait for message to %s: %w", to, ctx.Err())
		}
	}
}

// WaitForCall is WaitForMessage for calls.
func (s *Server) WaitForCall(ctx context.Context, to string) (Call, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if c, ok := s.LastCallTo(to); ok {
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Call{}, fmt.Errorf("twiliotest: wait for call to %s: %w", to, ctx.Err())
		}
	}
}

// Reset forgets recorded messages and calls and pending FailNext faults.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages, s.calls, s.failN = nil, nil, 0
}

// SignRequest returns the X-Twilio-Signature Twilio would send for a POST of
// params to fullURL, signed with token: base64 HMAC-SHA1 over the URL followed
// by each parameter name and (first) value, sorted by name. It is written
// independently of twilio-go so that tests cross-check the validator.
func SignRequest(fullURL string, params url.Values, token string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(params.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// apiError is Twilio's JSON error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{
		Code: code, Message: msg, Status: status,
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
	})
}

var (
	pathRE = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/(Messages|Calls)\.json$`)
	e164   = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
)

// Twilio limits the fake enforces (channels.md §1.2, §1.3).
const (
	maxBody      = 1600
	maxTwiML     = 4000
	maxValidity  = 36000
	maxRingTime  = 600
	maxTimeLimit = 14400
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	if s.failN > 0 {
		s.failN--
		status := s.failCode
		s.mu.Unlock()
		code := map[int]int{429: 20429, 500: 20500, 503: 20503}[status]
		writeError(w, status, code, http.StatusText(status))
		return
	}
	s.mu.Unlock()

	if r.Method == http.MethodGet {
		s.serveGet(w, r)
		return
	}
	m := pathRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	if msg := s.refusal(r); msg != "" {
		// Twilio's answer to missing or wrong credentials, also for a
		// deleted (revoked) API key: 401, code 20003.
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, msg)
		return
	}
	if m[1] != s.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		writeError(w, http.StatusUnsupportedMediaType, 20001, "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Unable to parse request body")
		return
	}
	if m[2] == "Messages" {
		s.createMessage(w, r.PostForm)
	} else {
		s.createCall(w, r.PostForm)
	}
}

var (
	accountRE = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)\.json$`)
	numbersRE = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/IncomingPhoneNumbers\.json$`)
)

// serveGet answers the two reads the live settings check makes: the
// account, and the account's numbers filtered by PhoneNumber.
func (s *Server) serveGet(w http.ResponseWriter, r *http.Request) {
	am, nm := accountRE.FindStringSubmatch(r.URL.Path), numbersRE.FindStringSubmatch(r.URL.Path)
	if am == nil && nm == nil {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if msg := s.refusal(r); msg != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, msg)
		return
	}
	sid := append(am, nm...)[1]
	if sid != s.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if am != nil {
		status := s.AccountStatus
		if status == "" {
			status = "active"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": s.AccountSID, "status": status, "type": "Full",
			"friendly_name": "Test account", "uri": "/2010-04-01/Accounts/" + s.AccountSID + ".json"})
		return
	}
	want := r.URL.Query().Get("PhoneNumber")
	var list []map[string]any
	for _, n := range s.numbers(want) {
		if want != "" && n != want {
			continue
		}
		list = append(list, map[string]any{"sid": "PN" + randomHex(), "account_sid": s.AccountSID, "phone_number": n,
			"friendly_name": n, "status": "in-use",
			"capabilities": map[string]bool{"sms": !s.NoSMS[n], "voice": true, "mms": false, "fax": false}})
	}
	if list == nil {
		list = []map[string]any{}
	}
	uri := r.URL.Path
	_ = json.NewEncoder(w).Encode(map[string]any{"incoming_phone_numbers": list, "page": 0, "page_size": 50, "start": 0,
		"end": len(list), "first_page_uri": uri, "next_page_uri": nil, "previous_page_uri": nil, "uri": uri})
}

func (s *Server) numbers(asked string) []string {
	if s.Numbers == nil && asked != "" {
		return []string{asked}
	}
	return s.Numbers
}

// refusal returns Twilio's message for credentials it does not accept, or
// "" when they are good. Twilio says "Authentication Error - No
// credentials provided" without any, "Authentication Error - invalid
// username" for a SID it does not know (or a deleted API key), and
// "Authenticate" for a known SID with the wrong secret.
func (s *Server) refusal(r *http.Request) string {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "Authentication Error - No credentials provided"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want, known := s.APIKeys[user]
	if user == s.AccountSID {
		want, known = s.AuthToken, true
	}
	switch {
	case !known:
		return "Authentication Error - invalid username"
	case !hmac.Equal([]byte(pass), []byte(want)):
		return "Authenticate"
	}
	return ""
}

// SetAuthToken changes the account's auth token, as when an admin rotates
// it in the Twilio console: the old one is refused from now on.
func (s *Server) SetAuthToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.AuthToken = token
}

// SetAPIKey adds an API key (or changes its secret); secret "" deletes the
// key, as revoking it in the Twilio console does.
func (s *Server) SetAPIKey(sid, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.APIKeys == nil {
		s.APIKeys = map[string]string{}
	}
	if secret == "" {
		delete(s.APIKeys, sid)
		return
	}
	s.APIKeys[sid] = secret
}

// Requests returns how many requests the fake has answered, refused ones
// included: a test of retry storms counts them.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// checkNumbers validates To/From and the per-number failure knobs. It
// reports whether the request may proceed.
func (s *Server) checkNumbers(w http.ResponseWriter, f url.Values, sms bool) bool {
	to, from := f.Get("To"), f.Get("From")
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return false
	case !e164.MatchString(to):
		writeError(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+to)
		return false
	case from == "" && (!sms || f.Get("MessagingServiceSid") == ""):
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return false
	case from != "" && !e164.MatchString(from):
		writeError(w, http.StatusBadRequest, 21212, "Invalid From Number (caller ID): "+from)
		return false
	}
	s.mu.Lock()
	unsub, code := s.Unsubscribed[to], s.Errors[to]
	s.mu.Unlock()
	switch {
	case code != 0:
		writeError(w, http.StatusBadRequest, code, "Simulated error "+strconv.Itoa(code))
		return false
	case sms && unsub:
		writeError(w, http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient")
		return false
	}
	return true
}

// intField parses an optional integer field in [lo, hi]; 0 means absent.
func intField(w http.ResponseWriter, f url.Values, name string, lo, hi int) (int, bool) {
	raw := f.Get(name)
	if raw == "" {
		return 0, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, 20001, fmt.Sprintf("%s must be an integer between %d and %d", name, lo, hi))
		return 0, false
	}
	return n, true
}

func (s *Server) createMessage(w http.ResponseWriter, f url.Values) {
	if !s.checkNumbers(w, f, true) {
		return
	}
	if svc := f.Get("MessagingServiceSid"); svc != "" && (len(svc) != 34 || !strings.HasPrefix(svc, "MG")) {
		writeError(w, http.StatusBadRequest, 21701, "The Messaging Service Sid "+svc+" is invalid.")
		return
	}
	body := f.Get("Body")
	switch {
	case body == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case len([]rune(body)) > maxBody:
		writeError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	validity, ok := intField(w, f, "ValidityPeriod", 1, maxValidity)
	if !ok {
		return
	}
	if cb := f.Get("StatusCallback"); cb != "" && !validCallback(cb) {
		writeError(w, http.StatusBadRequest, 21609, "Invalid StatusCallback url")
		return
	}

	now := time.Now().UTC()
	msg := Message{
		Sid: "SM" + randomHex(), AccountSID: s.AccountSID,
		To: f.Get("To"), From: f.Get("From"), MessagingServiceSID: f.Get("MessagingServiceSid"),
		Body: body, ValidityPeriod: validity, StatusCallback: f.Get("StatusCallback"),
		ShortenURLs: f.Get("ShortenUrls"), Form: f, Received: now,
	}
	s.record(func() { s.messages = append(s.messages, msg) })

	status, from := "queued", any(msg.From)
	if msg.MessagingServiceSID != "" {
		status = "accepted" // Twilio picks the sender later
		if msg.From == "" {
			from = nil
		}
	}
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + msg.Sid
	writeJSON(w, map[string]any{
		"account_sid": s.AccountSID, "api_version": "2010-04-01", "body": body,
		"date_created": now.Format(time.RFC1123Z), "date_updated": now.Format(time.RFC1123Z),
		"date_sent": nil, "direction": "outbound-api", "error_code": nil, "error_message": nil,
		"from": from, "messaging_service_sid": nullable(msg.MessagingServiceSID),
		"num_media": "0", "num_segments": "1", "price": nil, "price_unit": "USD",
		"sid": msg.Sid, "status": status, "to": msg.To, "uri": uri + ".json",
		"subresource_uris": map[string]string{"media": uri + "/Media.json"},
	})
}

func (s *Server) createCall(w http.ResponseWriter, f url.Values) {
	if !s.checkNumbers(w, f, false) {
		return
	}
	tw, u := f.Get("Twiml"), f.Get("Url")
	switch {
	case tw != "" && u != "":
		// Twilio would silently ignore Twiml; a code call must never do this.
		writeError(w, http.StatusBadRequest, 20001, "Url and Twiml are mutually exclusive")
		return
	case tw == "" && u == "" && f.Get("ApplicationSid") == "":
		writeError(w, http.StatusBadRequest, 21205, "Url, Twiml or ApplicationSid is required")
		return
	case len(tw) > maxTwiML:
		writeError(w, http.StatusBadRequest, 20001, "Twiml exceeds the 4000 character limit")
		return
	case tw != "" && !strings.Contains(tw, "<Response"):
		writeError(w, http.StatusBadRequest, 12100, "Document parse failure")
		return
	}
	timeout, ok := intField(w, f, "Timeout", 1, maxRingTime)
	if !ok {
		return
	}
	limit, ok := intField(w, f, "TimeLimit", 1, maxTimeLimit)
	if !ok {
		return
	}
	if cb := f.Get("StatusCallback"); cb != "" && !validCallback(cb) {
		writeError(w, http.StatusBadRequest, 21609, "Invalid StatusCallback url")
		return
	}

	now := time.Now().UTC()
	c := Call{
		Sid: "CA" + randomHex(), AccountSID: s.AccountSID, To: f.Get("To"), From: f.Get("From"),
		Twiml: tw, URL: u, Timeout: timeout, TimeLimit: limit,
		StatusCallback: f.Get("StatusCallback"), StatusCallbackEvents: f["StatusCallbackEvent"],
		Form: f, Received: now,
	}
	s.record(func() { s.calls = append(s.calls, c) })

	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Calls/" + c.Sid
	writeJSON(w, map[string]any{
		"account_sid": s.AccountSID, "annotation": nil, "answered_by": nil, "api_version": "2010-04-01",
		"caller_name": nil, "date_created": now.Format(time.RFC1123Z), "date_updated": now.Format(time.RFC1123Z),
		"direction": "outbound-api", "duration": nil, "end_time": nil, "forwarded_from": nil,
		"from": c.From, "from_formatted": c.From, "group_sid": nil, "parent_call_sid": nil,
		"phone_number_sid": nil, "price": nil, "price_unit": "USD", "queue_time": "0",
		"sid": c.Sid, "start_time": nil, "status": "queued", "to": c.To, "to_formatted": c.To,
		"trunk_sid": nil, "uri": uri + ".json",
		"subresource_uris": map[string]string{
			"notifications": uri + "/Notifications.json", "recordings": uri + "/Recordings.json",
		},
	})
}

// validCallback applies Twilio's callback URL rule: absolute http(s) with a
// hostname that has no underscore (channels.md §1.2).
func validCallback(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") &&
		u.Hostname() != "" && !strings.Contains(u.Hostname(), "_")
}

func (s *Server) record(add func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	add()
	close(s.changed)
	s.changed = make(chan struct{})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(v)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// randomHex returns the 32 hex digits that follow a sid's two-letter prefix.
func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func cloneSet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneStrings(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
