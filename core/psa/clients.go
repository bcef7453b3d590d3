package psa

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/countersign/countersign/core"
)

// Clients builds and keeps one client per integration, so that a plugin's
// caches (a ConnectWise codebase, communication types) serve every caller —
// pod loads and ticket notes alike. A saved integration has a new UpdatedAt
// and gets a new client.
type Clients struct {
	registry *Registry
	deps     func(core.Integration) Deps

	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	updated time.Time
	client  Client
}

// NewClients returns a client cache over registry. deps gives each
// integration's client its dependencies (a logger and a call counter bound
// to the integration); nil means the zero Deps.
func NewClients(registry *Registry, deps func(core.Integration) Deps) *Clients {
	if deps == nil {
		deps = func(core.Integration) Deps { return Deps{} }
	}
	return &Clients{registry: registry, deps: deps, clients: map[string]cachedClient{}}
}

// Registry returns the plugins the cache builds clients from.
func (c *Clients) Registry() *Registry { return c.registry }

// Get returns the client of in (whose Config is the opened JSON).
func (c *Clients) Get(in core.Integration) (Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.clients[in.ID]; ok && cc.updated.Equal(in.UpdatedAt) {
		return cc.client, nil
	}
	d, err := c.registry.Get(in.Kind)
	if err != nil {
		return nil, err
	}
	cl, err := d.New(json.RawMessage(in.Config), c.deps(in))
	if err != nil {
		return nil, err
	}
	if old, ok := c.clients[in.ID]; ok {
		_ = Close(old.client)
	}
	c.clients[in.ID] = cachedClient{updated: in.UpdatedAt, client: cl}
	return cl, nil
}

// New builds a client for in without keeping it, with the dependencies
// Get would give it: the console checks settings with it before they are
// saved.
func (c *Clients) New(in core.Integration) (Client, error) {
	d, err := c.registry.Get(in.Kind)
	if err != nil {
		return nil, err
	}
	return d.New(json.RawMessage(in.Config), c.deps(in))
}

// IntegrationLoader opens a tenant's integration; core.Engine.Integration
// is one.
type IntegrationLoader func(ctx context.Context, tenantID, id string) (core.Integration, error)

// NoteSender delivers core.OutboxTicketNote items: it writes a
// verification's result to its PSA ticket. It is a core.Sender, so the
// outbox gives notes its retries and keeps them while the PSA is down.
type NoteSender struct {
	Clients *Clients
	Load    IntegrationLoader
	// Public decides whether an integration's notes are shown to the
	// customer; nil means never (notes are internal by default).
	Public func(core.Integration) bool
}

// Send implements core.Sender.
func (s *NoteSender) Send(ctx context.Context, m core.Outbound) (string, error) {
	in, err := s.Load(ctx, m.Tenant, m.Integration)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return "", &core.PermanentError{Code: "integration", Reason: "the PSA integration was removed", Err: err}
		}
		return "", err
	}
	cl, err := s.Clients.Get(in)
	if err != nil {
		// Settings a plugin cannot build a client from are fixed by saving
		// them again: the note waits for that.
		fix := "the integration's settings are invalid: open and save them again"
		if m := core.ErrorMessage(err); m != "" {
			fix = "the integration's settings are invalid: " + m
		}
		return "", core.Misconfigured(fix, "", "", err)
	}
	noter, ok := cl.(TicketNoter)
	if !ok {
		return "", &core.PermanentError{Code: "integration", Reason: in.Kind + " integrations cannot write ticket notes"}
	}
	n := Note{Text: m.Text}
	if s.Public != nil {
		n.Public = s.Public(in)
	}
	if err := noter.AddTicketNote(ctx, m.To, n); err != nil {
		// Keys that are refused or may not write notes wait for an admin
		// to fix the integration (Misconfiguration); a ticket that is
		// gone will not come back; anything else (the PSA down, rate
		// limits) is retried by the outbox until the PSA is back.
		switch core.ErrorKind(err) {
		case core.KindUnauthorized, core.KindForbidden:
			return "", Misconfiguration(err)
		case core.KindNotFound, core.KindInvalid:
			return "", &core.PermanentError{Code: string(core.ErrorKind(err)), Reason: "the PSA refused the note: " + core.ErrorMessage(err), Err: err}
		}
		return "", err
	}
	return "note:" + m.To, nil
}

// TicketSender is the outbox sender that creates PSA tickets
// (core.OutboxPSATicket): the tickets users log from the agent's tray.
type TicketSender struct {
	Clients *Clients
	Load    IntegrationLoader
}

// Send implements core.Sender. Creating a ticket is not idempotent, so only
// a rate limit or an unreachable PSA is retried; any other refusal fails the
// item for good, with the PSA's reason.
func (s *TicketSender) Send(ctx context.Context, m core.Outbound) (string, error) {
	in, err := s.Load(ctx, m.Tenant, m.Integration)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return "", &core.PermanentError{Code: "integration", Reason: "the PSA integration was removed", Err: err}
		}
		return "", err
	}
	cl, err := s.Clients.Get(in)
	if err != nil {
		return "", core.Misconfigured("the integration's settings are invalid: open and save them again", "", "", err)
	}
	creator, ok := cl.(TicketCreator)
	if !ok {
		return "", &core.PermanentError{Code: "integration", Reason: in.Kind + " integrations cannot create tickets"}
	}
	t, err := creator.CreateTicket(ctx, NewTicket{CompanyRef: m.CompanyRef, ContactRef: m.ContactRef, Summary: m.Subject, Description: m.Text})
	if err != nil {
		switch core.ErrorKind(err) {
		case core.KindUnauthorized, core.KindForbidden:
			return "", Misconfiguration(err)
		case core.KindRateLimited, core.KindUnavailable:
			return "", err
		}
		return "", &core.PermanentError{Code: string(core.ErrorKind(err)), Reason: "the PSA refused the ticket: " + core.ErrorMessage(err), Err: err}
	}
	return "ticket:" + t.Ref, nil
}

// ContactSender is the outbox sender that creates PSA contacts
// (core.OutboxPSAContact): the person behind a first ticket from the tray
// whom the PSA did not know yet. It answers "contact:<ref>".
type ContactSender struct {
	Clients *Clients
	Load    IntegrationLoader
}

// Send implements core.Sender. Creating a contact is not idempotent, so
// each attempt first looks the address up in the company: a contact made
// by an attempt whose answer was lost (or by anyone since) is the one
// returned, never a second. Only a rate limit or an unreachable PSA is
// retried; any other refusal fails the item for good, with the PSA's
// reason.
func (s *ContactSender) Send(ctx context.Context, m core.Outbound) (string, error) {
	in, err := s.Load(ctx, m.Tenant, m.Integration)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return "", &core.PermanentError{Code: "integration", Reason: "the PSA integration was removed", Err: err}
		}
		return "", err
	}
	cl, err := s.Clients.Get(in)
	if err != nil {
		return "", core.Misconfigured("the integration's settings are invalid: open and save them again", "", "", err)
	}
	creator, ok := cl.(ContactCreator)
	if !ok {
		return "", &core.PermanentError{Code: "integration", Reason: in.Kind + " integrations cannot create contacts"}
	}
	refused := func(what string, err error) error {
		switch core.ErrorKind(err) {
		case core.KindUnauthorized, core.KindForbidden:
			return Misconfiguration(err)
		case core.KindRateLimited, core.KindUnavailable:
			return err
		}
		return &core.PermanentError{Code: string(core.ErrorKind(err)), Reason: "the PSA refused " + what + ": " + core.ErrorMessage(err), Err: err}
	}
	if finder, ok := cl.(ContactFinder); ok {
		found, err := finder.FindContacts(ctx, m.CompanyRef, ContactSearch{Email: m.To})
		if err != nil {
			return "", refused("the contact search", err)
		}
		switch len(found) {
		case 0:
		case 1:
			return "contact:" + found[0].Ref, nil
		default:
			return "", &core.PermanentError{Code: "ambiguous", Reason: "more than one contact of the company has that address in the PSA"}
		}
	}
	c, err := creator.CreateContact(ctx, Contact{CompanyRef: m.CompanyRef, FirstName: m.FirstName, LastName: m.LastName,
		Emails: []Email{{Address: m.To, Default: true}}})
	if err != nil {
		return "", refused("the contact", err)
	}
	return "contact:" + c.Ref, nil
}

// ContactWriteSender delivers the outbox items that write to a PSA contact:
// core.OutboxContactNote (the note that an opt-in form was sent) and
// core.OutboxContactPhone (a mobile number the end user corrected). Both
// wait for an admin when the integration's key may not write contacts,
// and fail for good when the PSA has no such contact or cannot do it.
type ContactWriteSender struct {
	Clients *Clients
	Load    IntegrationLoader
}

// Send implements core.Sender.
func (s *ContactWriteSender) Send(ctx context.Context, m core.Outbound) (string, error) {
	in, err := s.Load(ctx, m.Tenant, m.Integration)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return "", &core.PermanentError{Code: "integration", Reason: "the PSA integration was removed", Err: err}
		}
		return "", err
	}
	cl, err := s.Clients.Get(in)
	if err != nil {
		return "", core.Misconfigured("the integration's settings are invalid: open and save them again", "", "", err)
	}
	var what string
	switch m.Kind {
	case core.OutboxContactNote:
		what = "note"
		noter, ok := cl.(ContactNoter)
		if !ok {
			return "", &core.PermanentError{Code: "integration", Reason: in.Kind + " integrations cannot write contact notes"}
		}
		err = noter.AddContactNote(ctx, m.To, m.Text)
	case core.OutboxContactPhone:
		what = "number"
		setter, ok := cl.(ContactPhoneSetter)
		if !ok {
			return "", &core.PermanentError{Code: "integration", Reason: in.Kind + " integrations cannot change a contact's numbers"}
		}
		err = setter.SetContactPhone(ctx, m.To, PhoneChange{Old: m.OldPhone, New: m.Phone, Label: m.PhoneLabel})
	default:
		return "", &core.PermanentError{Code: "kind", Reason: "not a contact write: " + string(m.Kind)}
	}
	if err != nil {
		switch core.ErrorKind(err) {
		case core.KindUnauthorized, core.KindForbidden:
			return "", Misconfiguration(err)
		case core.KindNotFound, core.KindInvalid:
			return "", &core.PermanentError{Code: string(core.ErrorKind(err)), Reason: "the PSA refused the contact's " + what + ": " + core.ErrorMessage(err), Err: err}
		}
		return "", err
	}
	return "contact:" + m.To, nil
}
