package core

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sealer encrypts and decrypts data at rest; core/secret's Keyring is one.
// aad binds a ciphertext to its row so it cannot be moved to another.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Observer receives measurements for metrics. Nil methods are not called:
// a nil Observer in Config means no metrics.
type Observer interface {
	VerificationOutcome(m Method, outcome string)
	SendLatency(k OutboxKind, d time.Duration, err error)
}

// Config is what an Engine needs. Store, Renderer, Sealer, CodeKey and
// PublicURL are required; the rest have working zero values.
type Config struct {
	Store    Store
	Renderer Renderer
	Sealer   Sealer
	// CodeKey keys the HMAC of codes (security.md §1.4). It lives outside the
	// database: derive it from the master key.
	CodeKey []byte
	// PublicURL is the configured public base URL; links and callbacks are
	// built from it, never from a request's Host (security.md §2).
	PublicURL string
	// Senders deliver outbox items by kind. A kind without a sender, or every
	// kind when DevDelivery is set, is kept in the outbox for display instead.
	Senders     map[OutboxKind]Sender
	DevDelivery bool
	// Channels builds senders from a tenant's own Twilio and e-mail
	// accounts (channels.go); nil means only the server's Senders.
	Channels ChannelFactory
	// NoSharedChannels keeps tenants off the server's own SMS, voice and
	// e-mail Senders: each tenant must bring its own accounts. false (the
	// default) lets a tenant without its own account use the server's.
	NoSharedChannels bool
	// StatusCallbacks reports whether Twilio should post delivery statuses to
	// PublicURL + "/webhooks/twilio/status/{tenant slug}".
	StatusCallbacks bool
	Providers       []Provider // nil means DefaultProviders()
	// Duo opens a client for a Duo account's keys (core/duo); nil means
	// Duo push is not available on this server.
	Duo DuoConnector
	// Microsoft opens a client for a client's Microsoft 365 tenant
	// (core/microsoft); nil means Microsoft 365 import and Authenticator
	// push are not available on this server (the global kill switch).
	Microsoft MicrosoftConnector
	Publisher Publisher        // nil means events go nowhere
	Observer  Observer         // nil means no metrics
	Now       func() time.Time // nil means time.Now
	Rand      io.Reader        // nil means crypto/rand.Reader
	Logger    *slog.Logger     // nil means slog.Default()
}

// Engine runs verifications: it owns the state machine and every security
// rule. It is safe for concurrent use; all state lives in the Store.
type Engine struct {
	cfg       Config
	providers map[Method]Provider
	log       *slog.Logger
	wake      chan struct{}
	// sendSlots bounds sends started right after a commit; when all are
	// busy, new items wait for the outbox worker instead.
	sendSlots chan struct{}
	inflight  sync.WaitGroup
	// agents wakes device long-polls on this node (agent_tasks.go).
	agents agentHub
	// techVerify handles #verify and #confirm texts (sms.go).
	techVerify atomic.Pointer[techVerifyHolder]
	hooks
}

// NewEngine checks cfg and returns an engine.
func NewEngine(cfg Config) (*Engine, error) {
	switch {
	case cfg.Store == nil:
		return nil, Errorf(KindInvalid, "engine: no store")
	case cfg.Renderer == nil:
		return nil, Errorf(KindInvalid, "engine: no message renderer")
	case cfg.Sealer == nil:
		return nil, Errorf(KindInvalid, "engine: no sealer for the outbox")
	case len(cfg.CodeKey) < 32:
		return nil, Errorf(KindInvalid, "engine: code HMAC key must be at least 32 bytes")
	case cfg.PublicURL == "":
		return nil, Errorf(KindInvalid, "engine: no public URL")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Providers == nil {
		cfg.Providers = DefaultProviders()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{cfg: cfg, providers: map[Method]Provider{}, log: cfg.Logger, wake: make(chan struct{}, 1),
		sendSlots: make(chan struct{}, maxInlineSends)}
	for _, p := range cfg.Providers {
		if _, dup := e.providers[p.Method()]; dup {
			return nil, Errorf(KindInvalid, "engine: two providers for method %q", p.Method())
		}
		e.providers[p.Method()] = p
	}
	return e, nil
}

// Methods returns the methods this engine can send, in provider order.
func (e *Engine) Methods() []Method {
	ms := make([]Method, 0, len(e.cfg.Providers))
	for _, p := range e.cfg.Providers {
		ms = append(ms, p.Method())
	}
	return ms
}

// Provider returns the provider for m.
func (e *Engine) Provider(m Method) (Provider, bool) {
	p, ok := e.providers[m]
	return p, ok
}

// DevDelivery reports whether messages are kept in the outbox instead of sent.
// Without any server-wide message sender, messages of tenants that have no
// channels of their own are kept too, so it reports true then as well.
func (e *Engine) DevDelivery() bool {
	return e.cfg.DevDelivery || e.cfg.Senders[OutboxSMS] == nil && e.cfg.Senders[OutboxEmail] == nil && e.cfg.Senders[OutboxVoice] == nil
}

// Now returns the engine's clock reading.
func (e *Engine) Now() time.Time { return e.cfg.Now().UTC() }

// Store returns the engine's store, for adapters that read alongside it.
func (e *Engine) Store() Store { return e.cfg.Store }

// EffectivePolicy returns the policy for a client of a tenant: the client's
// override, else the tenant default, else DefaultPolicy — normalised.
func EffectivePolicy(ctx context.Context, tx Tx, tenantID, clientID string) (Policy, error) {
	p, err := tx.PolicyFor(ctx, tenantID, clientID)
	switch {
	case err == nil:
		return p.Normalized(), nil
	case isNotFound(err):
		return DefaultPolicy(), nil
	}
	return Policy{}, err
}

// Policy returns the effective policy for a client ("" for the tenant default).
func (e *Engine) Policy(ctx context.Context, tenantID, clientID string) (Policy, error) {
	var p Policy
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		p, err = EffectivePolicy(ctx, tx, tenantID, clientID)
		return err
	})
	return p, err
}

// ClientPolicy is [Engine.Policy] for a request that names clientID: an id
// that is not one of the tenant's clients (another tenant's, or none) is an
// error of kind KindNotFound, never the tenant's defaults.
func (e *Engine) ClientPolicy(ctx context.Context, tenantID, clientID string) (Policy, error) {
	var p Policy
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		if clientID != "" {
			if _, err := tx.Client(ctx, tenantID, clientID); err != nil {
				return err
			}
		}
		var err error
		p, err = EffectivePolicy(ctx, tx, tenantID, clientID)
		return err
	})
	return p, err
}

// PutPolicy validates and stores a policy; clientID "" sets the tenant default.
func (e *Engine) PutPolicy(ctx context.Context, tenantID, actor, clientID string, p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		if clientID != "" {
			if _, err := tx.Client(ctx, tenantID, clientID); err != nil {
				return err
			}
		}
		if err := tx.PutPolicy(ctx, tenantID, clientID, p); err != nil {
			return err
		}
		scope := clientID
		if scope == "" {
			scope = "default"
		}
		return e.audit(ctx, tx, tenantID, actor, AuditPolicyUpdated, scope, nil)
	})
}

func isNotFound(err error) bool { return ErrorKind(err) == KindNotFound }

// audit appends one event to the tenant's hash-chained log in tx.
func (e *Engine) audit(ctx context.Context, tx Tx, tenantID, actor, action, subject string, detail map[string]string) error {
	return tx.AppendAudit(ctx, &AuditEvent{
		TenantID: tenantID, At: e.Now(), Actor: actor, Action: action, Subject: subject, Detail: detail,
	})
}

// Audit appends an event outside any verification flow (sign-ins, admin
// changes made by adapters).
func (e *Engine) Audit(ctx context.Context, tenantID, actor, action, subject string, detail map[string]string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		return e.audit(ctx, tx, tenantID, actor, action, subject, detail)
	})
}

// AuditEvents reads a tenant's audit log as q selects it (see AuditQuery:
// newest first with a cursor for pages, or seq order for the chain check).
func (e *Engine) AuditEvents(ctx context.Context, tenantID string, q AuditQuery) ([]AuditEvent, error) {
	var evs []AuditEvent
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		evs, err = tx.AuditEvents(ctx, tenantID, q)
		return err
	})
	return evs, err
}

// Publish announces an event that happened outside the engine (a PSA's new
// ticket, EventTicketAdded) through the engine's publisher, so that
// watchers on every node see it.
func (e *Engine) Publish(ctx context.Context, ev Event) { e.publish(ctx, ev) }

// publish announces committed changes.
func (e *Engine) publish(ctx context.Context, evs ...Event) {
	if e.cfg.Publisher == nil {
		return
	}
	for _, ev := range evs {
		e.cfg.Publisher.Publish(ctx, ev)
	}
}

func (e *Engine) event(t EventType, v Verification) Event {
	return Event{Type: t, TenantID: v.TenantID, ContactID: v.ContactID, TicketRef: v.TicketRef,
		VerificationID: v.ID, Status: v.Status, At: e.Now()}
}

func (e *Engine) observe(m Method, outcome string) {
	if e.cfg.Observer != nil {
		e.cfg.Observer.VerificationOutcome(m, outcome)
	}
}

// techActor names a technician in the audit log.
func techActor(id string) string { return "tech:" + id }
