package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoCredential is what a CredentialStore returns before activation.
var ErrNoCredential = errors.New("agent: no device credential stored yet")

// CredentialStore keeps the device credential. On Windows it is sealed with
// DPAPI in machine scope in a file readable only by SYSTEM.
type CredentialStore interface {
	Load() (string, error) // ErrNoCredential when there is none
	Save(credential string) error
}

// Machine reports the machine and its users.
type Machine interface {
	Report(ctx context.Context) (Report, error)
}

// ServiceConfig is what a Service needs. ServerURL, Credentials and
// Machine are required; ActivationKey is needed until the first activation.
type ServiceConfig struct {
	ServerURL     string
	ActivationKey string
	Credentials   CredentialStore
	Machine       Machine
	HTTP          *http.Client  // nil means a client with a 90 s timeout
	Logger        *slog.Logger  // nil means slog.Default()
	PollWait      time.Duration // server-side long-poll wait; 0 means 25 s
	Heartbeat     time.Duration // heartbeat period; 0 means 5 minutes
	RetryAfter    time.Duration // pause after a failed call; 0 means 10 s
}

// Service is the agent's service-side work: activation, heartbeats, the
// task long-poll and the pipe to the trays.
type Service struct {
	cfg    ServiceConfig
	api    *Client
	log    *slog.Logger
	online atomic.Bool
	kick   chan struct{}

	mu      sync.Mutex
	trays   map[string]map[*trayConn]struct{} // by SID
	waiting map[string][]Prompt               // prompts for users with no tray connected, by SID
}

// NewService checks cfg and returns a service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.ServerURL == "" || cfg.Credentials == nil || cfg.Machine == nil {
		return nil, errors.New("agent: service needs the server URL (MSI property SERVERURL), a credential store and a machine reporter")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PollWait == 0 {
		cfg.PollWait = 25 * time.Second
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 5 * time.Minute
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 10 * time.Second
	}
	return &Service{cfg: cfg, api: &Client{ServerURL: cfg.ServerURL, HTTP: cfg.HTTP}, log: cfg.Logger,
		kick: make(chan struct{}, 1), trays: map[string]map[*trayConn]struct{}{}, waiting: map[string][]Prompt{}}, nil
}

// Online reports whether the last call to the server succeeded.
func (s *Service) Online() bool { return s.online.Load() }

// SessionChanged asks for a heartbeat now (a user logged on or off).
func (s *Service) SessionChanged() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Activate makes sure the device has a credential, activating with the
// activation key when it has none.
func (s *Service) Activate(ctx context.Context) error {
	cred, err := s.cfg.Credentials.Load()
	if err == nil && cred != "" {
		s.api.Credential = cred
		return nil
	}
	if err != nil && !errors.Is(err, ErrNoCredential) {
		return err
	}
	if s.cfg.ActivationKey == "" {
		return errors.New("agent: not activated and no activation key; reinstall with ACTIVATIONKEY=<the client's key from the console>")
	}
	rep, err := s.cfg.Machine.Report(ctx)
	if err != nil {
		return err
	}
	rep.AgentVersion = Version
	id, cred, err := s.api.Activate(ctx, s.cfg.ActivationKey, rep)
	if err != nil {
		return fmt.Errorf("agent: activate: %w", err)
	}
	if err := s.cfg.Credentials.Save(cred); err != nil {
		return fmt.Errorf("agent: store the device credential: %w", err)
	}
	s.log.Info("agent activated", "device", id)
	return nil
}

// Run activates if needed and then heartbeats and long-polls until ctx
// ends. Failures are retried after RetryAfter; a refused credential (a
// revoked device) is logged and retried slowly, since only a reinstall
// helps.
func (s *Service) Run(ctx context.Context) error {
	for {
		err := s.Activate(ctx)
		if err == nil {
			break
		}
		s.log.Error("agent activation failed", "err", err)
		if !s.sleep(ctx, s.cfg.RetryAfter) {
			return ctx.Err()
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.heartbeats(ctx) }()
	s.poll(ctx)
	wg.Wait()
	return ctx.Err()
}

func (s *Service) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *Service) heartbeats(ctx context.Context) {
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	for {
		if err := s.heartbeat(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("agent heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

func (s *Service) heartbeat(ctx context.Context) error {
	rep, err := s.cfg.Machine.Report(ctx)
	if err != nil {
		return err
	}
	rep.AgentVersion = Version
	err = s.api.Heartbeat(ctx, rep)
	s.online.Store(err == nil)
	return err
}

func (s *Service) poll(ctx context.Context) {
	for ctx.Err() == nil {
		tasks, err := s.api.Tasks(ctx, s.cfg.PollWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.online.Store(false)
			wait := s.cfg.RetryAfter
			if errors.Is(err, ErrUnauthorized) {
				wait *= 30
				s.log.Error("the server refused this device's credential (revoked?); reinstall the agent with the client's activation key", "err", err)
			} else {
				s.log.Warn("agent task poll failed", "err", err)
			}
			if !s.sleep(ctx, wait) {
				return
			}
			continue
		}
		s.online.Store(true)
		for _, t := range tasks {
			s.handleTask(t)
		}
	}
}

func (s *Service) handleTask(t Task) {
	switch t.Kind {
	case "prompt":
		var p Prompt
		if err := json.Unmarshal(t.Payload, &p); err != nil || t.SID == "" {
			s.log.Warn("agent: malformed prompt task", "task", t.ID, "err", err)
			return
		}
		s.deliverPrompt(t.SID, p)
	case "notify":
		var n struct{ Title, Text string }
		if err := json.Unmarshal(t.Payload, &n); err != nil {
			s.log.Warn("agent: malformed notify task", "task", t.ID, "err", err)
			return
		}
		s.broadcast(t.SID, Message{Type: MsgNotify, Title: n.Title, Text: n.Text})
	default:
		s.log.Warn("agent: unknown task kind; update the agent", "kind", t.Kind)
	}
}

// deliverPrompt sends p to the trays of sid, or keeps it until one
// connects (or it expires).
func (s *Service) deliverPrompt(sid string, p Prompt) {
	if s.broadcast(sid, Message{Type: MsgPrompt, Prompt: &p}) == 0 {
		s.mu.Lock()
		s.waiting[sid] = append(s.waiting[sid], p)
		s.mu.Unlock()
		s.log.Info("agent: prompt waits for the user's tray", "verification", p.VerificationID)
	}
}

// broadcast sends m to every tray of sid ("" for every tray) and returns
// how many got it.
func (s *Service) broadcast(sid string, m Message) int {
	s.mu.Lock()
	var targets []*trayConn
	for tsid, set := range s.trays {
		if sid != "" && tsid != sid {
			continue
		}
		for tc := range set {
			targets = append(targets, tc)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, tc := range targets {
		if tc.send(m) == nil {
			n++
		}
	}
	return n
}

// trayConn is one connected tray, with the identity the OS gave us.
type trayConn struct {
	peer Peer
	conn net.Conn
	mu   sync.Mutex // serialises writes
}

func (tc *trayConn) send(m Message) error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	_ = tc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return WriteMessage(tc.conn, m)
}

// ServePipe accepts tray connections on ln until ctx ends. identify tells
// who each caller is; a caller it cannot identify is disconnected.
func (s *Service) ServePipe(ctx context.Context, ln net.Listener, identify Identify) error {
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("agent: pipe accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveTray(ctx, conn, identify)
		}()
	}
}

func (s *Service) serveTray(ctx context.Context, conn net.Conn, identify Identify) {
	defer conn.Close()
	peer, err := identify(conn)
	if err != nil || peer.SID == "" {
		s.log.Warn("agent: pipe caller could not be identified; disconnected", "err", err)
		return
	}
	tc := &trayConn{peer: peer, conn: conn}
	s.mu.Lock()
	if s.trays[peer.SID] == nil {
		s.trays[peer.SID] = map[*trayConn]struct{}{}
	}
	s.trays[peer.SID][tc] = struct{}{}
	waiting := s.waiting[peer.SID]
	delete(s.waiting, peer.SID)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.trays[peer.SID], tc)
		if len(s.trays[peer.SID]) == 0 {
			delete(s.trays, peer.SID)
		}
		s.mu.Unlock()
	}()
	for _, p := range waiting {
		if time.Now().Before(p.ExpiresAt) {
			_ = tc.send(Message{Type: MsgPrompt, Prompt: &p})
		}
	}
	for ctx.Err() == nil {
		m, err := ReadMessage(conn)
		if err != nil {
			return
		}
		reply := s.handleRequest(ctx, peer, m)
		reply.ID = m.ID
		if err := tc.send(reply); err != nil {
			return
		}
	}
}

// handleRequest answers one tray request for the caller peer.
func (s *Service) handleRequest(ctx context.Context, peer Peer, m Message) Message {
	if m.SID != "" && m.SID != peer.SID {
		s.log.Warn("agent: pipe message claims another user's SID; refused",
			"caller_sid", peer.SID, "claimed_sid", m.SID, "pid", peer.PID, "type", m.Type)
		return Message{Type: MsgResult, Error: "refused: a tray may only act for the user it runs as"}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch m.Type {
	case MsgStatus:
		b, err := s.api.Binding(ctx, peer.SID)
		if err != nil {
			return Message{Type: MsgStatus, Status: &Status{Online: false}}
		}
		return Message{Type: MsgStatus, Status: &Status{Online: true, Bound: b.Bound, ContactName: b.Contact.Name}}
	case MsgAnswer:
		if m.Answer == nil || m.Answer.VerificationID == "" {
			return Message{Type: MsgResult, Error: "an answer needs the prompt it answers"}
		}
		st, err := s.api.Answer(ctx, m.Answer.VerificationID, peer.SID, m.Answer.Choice, m.Answer.NotMe)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) {
				return Message{Type: MsgResult, Error: ae.Message}
			}
			return Message{Type: MsgResult, Error: "could not reach the server; tell the technician"}
		}
		return Message{Type: MsgResult, Text: st}
	case MsgTechnicians:
		names, err := s.api.Technicians(ctx, peer.SID)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.Kind == "not_found" {
				return Message{Type: MsgTechnicians, Text: "You are not bound to a contact yet: use Login / Register first."}
			}
			return Message{Type: MsgResult, Error: "could not reach the server"}
		}
		return Message{Type: MsgTechnicians, Technicians: names}
	case MsgTechCheck:
		if m.TechCheck == nil || m.TechCheck.TechnicianID == "" {
			return Message{Type: MsgResult, Error: "an answer needs the technician it is about"}
		}
		// The user is the pipe's caller, never one the message names.
		res, err := s.api.CheckTechnician(ctx, peer.SID, *m.TechCheck)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) {
				return Message{Type: MsgResult, Error: ae.Message}
			}
			return Message{Type: MsgResult, Error: "could not reach your IT provider; if you are unsure of the caller, hang up and call your IT provider's usual number"}
		}
		return Message{Type: MsgResult, Text: res.Ticket}
	case MsgTicketForm, MsgLoginForm:
		form := s.api.TicketForm
		if m.Type == MsgLoginForm {
			form = s.api.LoginForm
		}
		link, err := form(ctx, peer.SID)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) {
				return Message{Type: MsgResult, Error: ae.Message}
			}
			return Message{Type: MsgResult, Error: "could not reach the server; try again, or call the service desk"}
		}
		return Message{Type: MsgResult, Text: link}
	}
	return Message{Type: MsgResult, Error: fmt.Sprintf("unknown request %q", m.Type)}
}
