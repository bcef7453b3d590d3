// Package duotest is a loopback fake of the Duo Auth API v2 endpoints
// Countersign calls: ping, check, preauth, auth (async push) and the
// auth_status long-poll (channels.md §2).
//
// The fake checks every signed request like the real service: HTTP Basic
// "ikey:hex(HMAC-SHA512(skey, canonical request))" over the Date header,
// upper-case method, lower-case host, path and sorted %20-encoded params
// (signature version 2), and it refuses a Date further than MaxSkew from
// its own clock. It answers Duo's JSON envelope, "stat":"FAIL" with Duo's
// codes included, so the real duo_api_golang runs end to end against it
// (over TLS: the library only builds https URLs) through
// [Server.HTTPClient].
//
// Users are seeded with [Server.AddUser]; how a push is answered is either
// the user's Auto outcome or an explicit [Server.Answer]; an unanswered push
// times out after PushTimeout like Duo's (deny/timeout).
package duotest

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
)

// Default credentials: a 20-character integration key and a 40-character
// secret key, as Duo issues them.
const (
	DefaultIKey = "DIWJ8X6AEYOR5OMC6TQ1"
	DefaultSKey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
)

// Outcome is how Duo answers a push: auth_status's result, status and
// status message, after Delay.
type Outcome struct {
	Result    string // allow | deny
	Status    string // allow, bypass, deny, fraud, timeout, push_failed, locked_out, …
	StatusMsg string
	Delay     time.Duration
}

// Outcomes Duo gives (channels.md §2.6).
var (
	Approve    = Outcome{Result: "allow", Status: "allow", StatusMsg: "Success. Logging you in..."}
	Deny       = Outcome{Result: "deny", Status: "deny", StatusMsg: "Login request denied."}
	Fraud      = Outcome{Result: "deny", Status: "fraud", StatusMsg: "Login request reported as fraud."}
	Timeout    = Outcome{Result: "deny", Status: "timeout", StatusMsg: "Login timed out."}
	Bypass     = Outcome{Result: "allow", Status: "bypass", StatusMsg: "Bypass code accepted"}
	PushFailed = Outcome{Result: "deny", Status: "push_failed", StatusMsg: "Push call failed"}
	LockedOut  = Outcome{Result: "deny", Status: "locked_out", StatusMsg: "Your account is disabled"}
)

// User is a Duo user.
type User struct {
	Username string
	Aliases  []string
	// Preauth is preauth's result: "" means "auth"; "allow", "deny" and
	// "enroll" are Duo's others.
	Preauth string
	// Devices are the user's devices; nil means one Duo Mobile phone.
	Devices []Device
	// Auto answers every push to the user; nil leaves pushes waiting for
	// Answer or PushTimeout.
	Auto *Outcome
	// VerifiedPush makes preauth return a txid when the client supports
	// Verified Duo Push, and the push wait for the code.
	VerifiedPush bool
}

// Device is a device of a user, as preauth lists it.
type Device struct {
	ID           string   `json:"device"`
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	Number       string   `json:"number"`
	Capabilities []string `json:"capabilities"`
}

// Push is a push the fake accepted.
type Push struct {
	Txid     string
	Username string
	Device   string
	Type     string
	Pushinfo url.Values
	RawInfo  string
	Verified bool // sent with a Verified Push txid from preauth
	At       time.Time
	// Outcome is how it was answered; zero while waiting.
	Outcome Outcome
	polled  bool
}

// Server is a fake Duo API host. Its methods are safe for concurrent use.
type Server struct {
	// IKey and SKey are the only credentials accepted; "" means the defaults.
	IKey, SKey string
	// MaxSkew is how far a request's Date may be from Now; 0 means 5 minutes.
	MaxSkew time.Duration
	// Now is the fake's clock; nil means time.Now. Set it off to test skew.
	Now func() time.Time
	// PushTimeout is when an unanswered push times out; 0 means 60 s.
	PushTimeout time.Duration
	// LongPoll is how long auth_status waits for a change; 0 means 20 s.
	LongPoll time.Duration

	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]*User // by username and alias
	pushes   []*Push
	pending  map[string]string // preauth txid → username (Verified Push)
	changed  chan struct{}
	requests map[string]int
	down     bool
	clockOff time.Duration
}

// Start starts the fake on a loopback TLS port and stops it when t ends.
func Start(t testing.TB, users ...User) *Server {
	t.Helper()
	s := &Server{}
	for _, u := range users {
		s.AddUser(u)
	}
	s.Serve(t)
	return s
}

// Serve starts s, with its knobs as set, and stops it when t ends.
func (s *Server) Serve(t testing.TB) {
	t.Helper()
	s.start()
	t.Cleanup(s.srv.Close)
}

// StartLoopback starts s, with its knobs as set, on a loopback TLS port
// until Close: for a program rather than a test (countersign demo, whose
// Push works without a Duo account).
func (s *Server) StartLoopback() { s.start() }

// Close stops a server started by StartLoopback.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) start() {
	s.mu.Lock()
	if s.IKey == "" {
		s.IKey = DefaultIKey
	}
	if s.SKey == "" {
		s.SKey = DefaultSKey
	}
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/v2/ping", s.handlePing)
	mux.HandleFunc("GET /auth/v2/check", s.signed(s.handleCheck))
	mux.HandleFunc("POST /auth/v2/preauth", s.signed(s.handlePreauth))
	mux.HandleFunc("POST /auth/v2/auth", s.signed(s.handleAuth))
	mux.HandleFunc("GET /auth/v2/auth_status", s.signed(s.handleAuthStatus))
	s.srv = httptest.NewTLSServer(mux)
}

// Host is the API host to configure: 127.0.0.1:port (it is in the signature).
func (s *Server) Host() string { return strings.TrimPrefix(s.srv.URL, "https://") }

// HTTPClient trusts the fake's certificate. Its timeout allows the long-poll.
func (s *Server) HTTPClient() *http.Client {
	c := *s.srv.Client()
	c.Timeout = 90 * time.Second
	return &c
}

// Config is the account configuration that reaches this fake.
func (s *Server) Config() core.DuoConfig {
	return core.DuoConfig{IntegrationKey: s.IKey, SecretKey: s.SKey, APIHost: s.Host()}
}

// AddUser adds or replaces a user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = map[string]*User{}
	}
	if u.Devices == nil {
		u.Devices = []Device{{ID: "DPFZRS9FB0D46QFTM891", Type: "phone", Name: "iPhone of " + u.Username,
			Number: "XXX-XXX-0100", Capabilities: []string{"auto", "push", "sms", "phone", "mobile_otp"}}}
	}
	uu := u
	s.users[strings.ToLower(u.Username)] = &uu
	for _, a := range u.Aliases {
		s.users[strings.ToLower(a)] = &uu
	}
}

// SetDown makes every call answer 503 (Duo unreachable) while down.
func (s *Server) SetDown(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// SetClockOffset moves the fake's clock by d, for clock-skew tests.
func (s *Server) SetClockOffset(d time.Duration) { s.mu.Lock(); s.clockOff = d; s.mu.Unlock() }

// Pushes returns copies of the pushes accepted so far, oldest first.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Push, len(s.pushes))
	for i, p := range s.pushes {
		out[i] = *p
	}
	return out
}

// Requests returns how many signed requests reached path (accepted or not).
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// Answer answers the newest waiting push to username (or with that txid).
// It reports whether there was one.
func (s *Server) Answer(usernameOrTxid string, o Outcome) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.pushes) - 1; i >= 0; i-- {
		p := s.pushes[i]
		if p.Outcome.Result == "" && (p.Txid == usernameOrTxid || strings.EqualFold(p.Username, usernameOrTxid)) {
			p.Outcome = o
			s.changedLocked()
			return true
		}
	}
	return false
}

// WaitPushes blocks until n pushes were accepted or d passes, and returns them.
func (s *Server) WaitPushes(n int, d time.Duration) []Push {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		ch, got := s.changed, len(s.pushes)
		s.mu.Unlock()
		if got >= n {
			return s.Pushes()
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Pushes()
		}
	}
}

func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) now() time.Time {
	s.mu.Lock()
	off := s.clockOff
	s.mu.Unlock()
	if s.Now != nil {
		return s.Now().Add(off)
	}
	return time.Now().Add(off)
}

// stat writes Duo's envelope.
func writeOK(w http.ResponseWriter, resp any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"stat": "OK", "response": resp})
}

func writeFail(w http.ResponseWriter, status, code int, msg, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"stat": "FAIL", "code": code, "message": msg}
	if detail != "" {
		body["message_detail"] = detail
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) {
	writeOK(w, map[string]any{"time": s.now().Unix()})
}

// signed checks Duo's request signature (signature version 2) before h.
func (s *Server) signed(h func(http.ResponseWriter, *http.Request, url.Values)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.requests == nil {
			s.requests = map[string]int{}
		}
		s.requests[r.URL.Path]++
		down := s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		var params url.Values
		if r.Method == http.MethodPost {
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "content type "+ct)
				return
			}
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				params, err = url.ParseQuery(string(b))
			}
			if err != nil {
				writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "body")
				return
			}
		} else {
			params = r.URL.Query()
		}
		date := r.Header.Get("Date")
		user, pass, ok := r.BasicAuth()
		if !ok || date == "" {
			writeFail(w, http.StatusUnauthorized, 40101, "Missing request credentials", "")
			return
		}
		at, err := time.Parse(time.RFC1123Z, date)
		if err != nil {
			writeFail(w, http.StatusUnauthorized, 40105, "Invalid request date", date)
			return
		}
		skew := s.MaxSkew
		if skew == 0 {
			skew = 5 * time.Minute
		}
		if d := s.now().Sub(at); d > skew || d < -skew {
			writeFail(w, http.StatusUnauthorized, 40105, "Request has expired", "the request's Date is too far from Duo's clock")
			return
		}
		if user != s.IKey {
			writeFail(w, http.StatusUnauthorized, 40102, "Invalid integration key in request credentials", "")
			return
		}
		want := Sign(s.SKey, r.Method, r.Host, r.URL.Path, date, params)
		if !hmac.Equal([]byte(pass), []byte(want)) {
			writeFail(w, http.StatusUnauthorized, 40103, "Invalid signature in request credentials", "")
			return
		}
		h(w, r, params)
	}
}

// Sign returns the hex HMAC-SHA512 signature of a request (Duo signature
// version 2), as Duo computes it.
func Sign(skey, method, host, path, date string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	canon := strings.Join([]string{date, strings.ToUpper(method), strings.ToLower(host), path, strings.Join(parts, "&")}, "\n")
	m := hmac.New(sha512.New, []byte(skey))
	m.Write([]byte(canon))
	return hex.EncodeToString(m.Sum(nil))
}

// escape is URL encoding with %20 for a space (not +).
func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// BasicAuth returns the Authorization header value for a signature.
func BasicAuth(ikey, sig string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(ikey+":"+sig))
}

func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request, _ url.Values) {
	writeOK(w, map[string]any{"time": s.now().Unix()})
}

func (s *Server) user(name string) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[strings.ToLower(name)]
}

func (s *Server) handlePreauth(w http.ResponseWriter, r *http.Request, p url.Values) {
	name := p.Get("username")
	if name == "" && p.Get("user_id") == "" {
		writeFail(w, http.StatusBadRequest, 40002, "Missing required request parameters", "username")
		return
	}
	u := s.user(name)
	if u == nil {
		// Duo's default new-user policy asks unknown users to enroll.
		writeOK(w, map[string]any{"result": "enroll", "status_msg": "Enroll an authentication device to proceed",
			"enroll_portal_url": "https://" + s.Host() + "/portal?code=fake"})
		return
	}
	switch u.Preauth {
	case "", "auth":
		resp := map[string]any{"result": "auth", "status_msg": "Account is active", "devices": u.Devices}
		if u.VerifiedPush && p.Get("client_supports_verified_push") == "1" {
			txid := newTxid("vp")
			s.mu.Lock()
			if s.pending == nil {
				s.pending = map[string]string{}
			}
			s.pending[txid] = u.Username
			s.mu.Unlock()
			resp["txid"] = txid
		}
		writeOK(w, resp)
	case "allow":
		writeOK(w, map[string]any{"result": "allow", "status_msg": "Allowing unknown user"})
	case "deny":
		writeOK(w, map[string]any{"result": "deny", "status_msg": "Your account is disabled"})
	default:
		writeOK(w, map[string]any{"result": u.Preauth, "status_msg": "Enroll an authentication device to proceed"})
	}
}

func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request, p url.Values) {
	if p.Get("factor") != "push" {
		writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "factor")
		return
	}
	if p.Get("async") != "1" {
		// The fake serves only what Countersign must send (channels.md §2.5).
		writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "the fake only takes async pushes")
		return
	}
	u := s.user(p.Get("username"))
	if u == nil {
		writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "username")
		return
	}
	dev := p.Get("device")
	found := dev == "auto"
	for _, d := range u.Devices {
		if d.ID == dev {
			found = true
		}
	}
	if !found {
		writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "device")
		return
	}
	info, err := url.ParseQuery(p.Get("pushinfo"))
	if err != nil || len(p.Get("pushinfo")) >= 20000 {
		writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "pushinfo")
		return
	}
	push := &Push{Txid: newTxid("tx"), Username: u.Username, Device: dev, Type: p.Get("type"), Pushinfo: info,
		RawInfo: p.Get("pushinfo"), At: time.Now()}
	s.mu.Lock()
	if t := p.Get("txid"); t != "" {
		if s.pending[t] != u.Username {
			s.mu.Unlock()
			writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "txid")
			return
		}
		delete(s.pending, t)
		push.Verified = true
	}
	s.pushes = append(s.pushes, push)
	s.changedLocked()
	auto := u.Auto
	s.mu.Unlock()
	if auto != nil {
		o := *auto
		time.AfterFunc(o.Delay, func() { s.Answer(push.Txid, o) })
	}
	timeout := s.PushTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	time.AfterFunc(timeout, func() { s.Answer(push.Txid, Timeout) })
	writeOK(w, map[string]any{"txid": push.Txid})
}

func (s *Server) handleAuthStatus(w http.ResponseWriter, r *http.Request, p url.Values) {
	txid := p.Get("txid")
	wait := s.LongPoll
	if wait == 0 {
		wait = 20 * time.Second
	}
	deadline := time.After(wait)
	for {
		s.mu.Lock()
		var push *Push
		for _, x := range s.pushes {
			if x.Txid == txid {
				push = x
			}
		}
		var (
			o     Outcome
			first bool
		)
		if push != nil {
			o = push.Outcome
			first, push.polled = !push.polled, true
		}
		ch := s.changed
		s.mu.Unlock()
		switch {
		case push == nil:
			writeFail(w, http.StatusBadRequest, 40002, "Invalid request parameters", "txid")
			return
		case o.Result != "":
			writeOK(w, map[string]any{"result": o.Result, "status": o.Status, "status_msg": o.StatusMsg})
			return
		}
		waiting := func() {
			msg := "Pushed a login request to your device..."
			if push.Verified {
				msg = "Please enter verification code 708 into Duo Mobile to approve this login request."
			}
			writeOK(w, map[string]any{"result": "waiting", "status": "pushed", "status_msg": msg})
		}
		if first && push.Verified {
			waiting() // the push going out is the first change
			return
		}
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		case <-deadline:
			waiting()
			return
		}
	}
}

var (
	txMu sync.Mutex
	txN  int
)

func newTxid(prefix string) string {
	txMu.Lock()
	defer txMu.Unlock()
	txN++
	return fmt.Sprintf("%s-%08d-fake-duo", prefix, txN)
}
