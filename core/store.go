package core

import (
	"context"
	"time"
)

// Store is the persistence port the engine runs on. core/store implements it
// over database/sql for SQLite and PostgreSQL.
//
// Update runs fn in a read-write transaction: it commits when fn returns nil
// and rolls back otherwise, so nothing is persisted half-way. View runs fn in
// a read-only transaction. fn may run more than once when the database asks
// for a retry (serialization failure), so it must have no outside effects.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is one transaction. Every method that reads or writes tenant data takes
// the tenant id explicitly and touches only that tenant's rows; a row of
// another tenant reads as ErrNotFound.
//
// Errors follow the core taxonomy: a missing row is ErrNotFound, a unique
// violation ErrConflict.
type Tx interface {
	// BatchWrites lets the store hold the transaction's writes that allow
	// it (creating and updating verifications, recording sends, queueing
	// and updating outbox items, failure counters, audit appends) and send
	// them together with its next other statement or its commit: fewer
	// round trips on PostgreSQL. Such a write's error (ErrNotFound for an
	// update that matched nothing, a foreign key, …) is then returned by
	// that later call or by the commit, which the transaction function
	// must return. Hot paths that only pass errors on call it.
	BatchWrites()

	// Tenants.
	CreateTenant(ctx context.Context, t *Tenant) error
	Tenant(ctx context.Context, id string) (Tenant, error)
	TenantBySlug(ctx context.Context, slug string) (Tenant, error)
	UpdateTenant(ctx context.Context, t *Tenant) error
	ListTenants(ctx context.Context) ([]Tenant, error)

	// Clients.
	// Clients. Client and ListClients leave deleted clients out (a deleted
	// one reads as ErrNotFound); UpdateClient writes name and DeletedAt.
	CreateClient(ctx context.Context, c *Client) error
	Client(ctx context.Context, tenantID, id string) (Client, error)
	ListClients(ctx context.Context, tenantID string) ([]Client, error)
	UpdateClient(ctx context.Context, c *Client) error

	// Contacts and their destinations. CreateContact also stores
	// c.Destinations; Contact and SearchContacts return them filled in.
	// A deleted contact reads as ErrNotFound and is left out of searches
	// unless the query asks for it. UpdateContact writes the contact's own
	// fields (client, names, title, PSA ref, times), not its destinations.
	CreateContact(ctx context.Context, c *Contact) error
	Contact(ctx context.Context, tenantID, id string) (Contact, error)
	// LockContactFor reads a contact as Contact does and, in the same read,
	// the technician techID ("" reads none: a zero Technician). It holds
	// the contact's row against other lockers until the transaction ends
	// (FOR UPDATE on PostgreSQL; SQLite serialises write transactions
	// already), so that starts for one contact run one after the other:
	// what a later statement of the transaction counts of the contact's
	// verifications stays true until it commits. A missing technician is
	// ErrNotFound wrapped with "technician", as Technician's would be.
	LockContactFor(ctx context.Context, tenantID, techID, id string) (Contact, Technician, error)
	SearchContacts(ctx context.Context, tenantID string, q ContactQuery) ([]Contact, error)
	UpdateContact(ctx context.Context, c *Contact) error
	// ClientEmailDomains counts, for each e-mail domain, the contacts of
	// a client (deleted ones left out) with at least one address there.
	ClientEmailDomains(ctx context.Context, tenantID, clientID string) (map[string]int, error)
	AddDestination(ctx context.Context, tenantID string, d *Destination) error
	UpdateDestination(ctx context.Context, tenantID string, d *Destination) error
	DeleteDestination(ctx context.Context, tenantID, contactID, id string) error

	// Technicians.
	CreateTechnician(ctx context.Context, t *Technician) error
	Technician(ctx context.Context, tenantID, id string) (Technician, error)
	TechnicianByEmail(ctx context.Context, tenantID, email string) (Technician, error)
	// LockTechnician reads a technician and holds the row against
	// concurrent writers until the transaction ends, so sign-in counts
	// failures and TOTP steps without lost updates (FOR UPDATE on
	// PostgreSQL; SQLite serialises write transactions already).
	LockTechnician(ctx context.Context, tenantID, id string) (Technician, error)
	ListTechnicians(ctx context.Context, tenantID string) ([]Technician, error)
	// UpdateTechnician writes every mutable field of t (name, role,
	// password hash, TOTP secret, failed logins, lock, disabled time,
	// session epoch, last sign-in).
	UpdateTechnician(ctx context.Context, t *Technician) error

	// Policies: clientID "" is the tenant default. A missing policy is ErrNotFound.
	Policy(ctx context.Context, tenantID, clientID string) (Policy, error)
	// PolicyFor returns the client's policy, else the tenant default, in
	// one read; ErrNotFound when neither is stored.
	PolicyFor(ctx context.Context, tenantID, clientID string) (Policy, error)
	PutPolicy(ctx context.Context, tenantID, clientID string, p Policy) error
	// DeletePolicy removes a client's override so the tenant default applies
	// again; a client without one is ErrNotFound.
	DeletePolicy(ctx context.Context, tenantID, clientID string) error

	// Verifications.
	CreateVerification(ctx context.Context, v *Verification) error
	Verification(ctx context.Context, tenantID, id string) (Verification, error)
	// LockVerification reads a verification and holds it against concurrent
	// writers until the transaction ends (FOR UPDATE on PostgreSQL; SQLite's
	// single writer connection serialises write transactions already).
	LockVerification(ctx context.Context, tenantID, id string) (Verification, error)
	// LockVerificationFor is Technician and LockVerification in one read:
	// the technician techID of the tenant and the verification id, locked.
	// A missing technician is an error wrapping ErrNotFound and naming
	// "technician", as Technician's would be.
	LockVerificationFor(ctx context.Context, tenantID, techID, id string) (Verification, Technician, error)
	VerificationByLinkHash(ctx context.Context, tenantID string, hash []byte) (Verification, error)
	// UseLinkNonce spends a link page's form nonce (stored as its hash) for
	// a verification; a nonce spent before is ErrConflict, without
	// aborting the transaction.
	UseLinkNonce(ctx context.Context, tenantID, verificationID string, nonceHash []byte, at time.Time) error
	UpdateVerification(ctx context.Context, v *Verification) error
	// LockOpenVerifications locks a contact against concurrent starts and
	// returns its verifications still open in the store (pending or sent,
	// expired or not), newest first, each held like LockVerification.
	LockOpenVerifications(ctx context.Context, tenantID, contactID string) ([]Verification, error)
	// ListVerifications returns a contact's verifications, newest first.
	ListVerifications(ctx context.Context, tenantID, contactID string, limit int) ([]Verification, error)
	// RecentVerifications returns the tenant's verifications created at
	// since or later, whatever the contact, newest first, at most limit.
	RecentVerifications(ctx context.Context, tenantID string, since time.Time, limit int) ([]Verification, error)
	// LastVerified returns when each destination of a contact was last
	// verified (the latest completion of a verification to it that
	// verified the caller), by destination id, in one read however many
	// destinations there are; a destination never verified is absent.
	LastVerified(ctx context.Context, tenantID, contactID string) (map[string]time.Time, error)
	// ShieldVerifications returns, for each of contactIDs that has one, its
	// newest verification not open at now (not pending or sent, or past
	// its expiry): the one ShieldFor decides by. One read for them all.
	ShieldVerifications(ctx context.Context, tenantID string, contactIDs []string, now time.Time) (map[string]Verification, error)
	// VerificationByProviderRef finds the verification whose last send has
	// the provider id ref (e.g. a Twilio MessageSid).
	VerificationByProviderRef(ctx context.Context, tenantID, ref string) (Verification, error)

	// Sends, for rate limits.
	RecordSend(ctx context.Context, s *Send) error
	// DeleteSends removes the sends of a verification: a push whose slot
	// was reserved when it was opened but that never went out.
	DeleteSends(ctx context.Context, tenantID, verificationID string) error
	CountSends(ctx context.Context, tenantID string, f SendFilter) (int, error)
	// SendStats answers q in one read, each count by its own index.
	SendStats(ctx context.Context, tenantID string, q SendStatsQuery) (SendStats, error)

	// Consecutive failures per contact and channel (security.md §1.2).
	FailureCount(ctx context.Context, tenantID, contactID string, kind DestinationKind) (int, error)
	SetFailureCount(ctx context.Context, tenantID, contactID string, kind DestinationKind, n int, at time.Time) error
	// AddFailure adds one to the contact's count on kind and returns the
	// new count, in one statement: exact however many failures and
	// successes on the contact's channels run at once.
	AddFailure(ctx context.Context, tenantID, contactID string, kind DestinationKind, at time.Time) (int, error)
	// ClearFailures records a success on kind, in one statement: its count
	// goes back to zero, and so does every other kind's count at locked
	// (the cap) or more — a channel is locked "until a success on another
	// channel or an admin reset" (security.md §1.2). Counts below locked
	// stay: a success on one channel is no success on another.
	ClearFailures(ctx context.Context, tenantID, contactID string, kind DestinationKind, locked int, at time.Time) error
	// PushStopLifted is when an admin last lifted the contact's push stop
	// (security.md §4, Engine.ResetLock); the zero time for never. Refusals
	// before it no longer stop pushes.
	PushStopLifted(ctx context.Context, tenantID, contactID string) (time.Time, error)
	LiftPushStop(ctx context.Context, tenantID, contactID string, at time.Time) error

	// Audit log. AppendAudit fills e.Seq, e.PrevHash and e.Hash (AuditHash)
	// from the tenant's head and advances the head in the same transaction.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	AuditEvents(ctx context.Context, tenantID string, q AuditQuery) ([]AuditEvent, error)
	// AuditHead returns the seq and hash of the tenant's last appended event
	// (0, nil for none).
	AuditHead(ctx context.Context, tenantID string) (int64, []byte, error)

	// Outbox.
	EnqueueOutbox(ctx context.Context, o *OutboxItem) error
	// ClaimOutbox leases up to limit pending items due at now, across all
	// tenants (the one cross-tenant query: it is the delivery worker's), so
	// that no other worker takes them until lease. PostgreSQL uses
	// FOR UPDATE SKIP LOCKED.
	ClaimOutbox(ctx context.Context, now, lease time.Time, limit int) ([]OutboxItem, error)
	// UpdateOutbox writes o's status, attempts, schedule, error, provider
	// ref, sealed payload and done time.
	UpdateOutbox(ctx context.Context, o *OutboxItem) error
	OutboxItem(ctx context.Context, tenantID, id string) (OutboxItem, error)
	// ListOutbox returns a tenant's items, newest first.
	ListOutbox(ctx context.Context, tenantID string, limit int) ([]OutboxItem, error)
	// TicketNoteItems returns the ticket-note items of the given
	// verifications of a tenant, newest first.
	TicketNoteItems(ctx context.Context, tenantID string, verificationIDs []string) ([]OutboxItem, error)

	// Channel issues (misconfigured channels, misconfig.go). ChannelIssue
	// of a channel without one is ErrNotFound; PutChannelIssue inserts or
	// replaces; DeleteChannelIssue of none is no error.
	ChannelIssue(ctx context.Context, tenantID, channel string) (ChannelIssue, error)
	PutChannelIssue(ctx context.Context, is *ChannelIssue) error
	DeleteChannelIssue(ctx context.Context, tenantID, channel string) error
	// ListChannelIssues returns a tenant's issues, oldest first, with the
	// number of outbox items waiting for each.
	ListChannelIssues(ctx context.Context, tenantID string) ([]ChannelIssue, error)
	// ClaimChannelProbe moves the issue's next probe to next if it was due
	// at now, and reports whether it did (only one caller wins a probe).
	ClaimChannelProbe(ctx context.Context, tenantID, channel string, now, next time.Time) (bool, error)
	// DueChannelIssues returns up to limit issues of any tenant whose next
	// probe is due before the given time (the outbox worker's query).
	DueChannelIssues(ctx context.Context, before time.Time, limit int) ([]ChannelIssue, error)
	// ResumeWaitingOutbox makes the tenant's items waiting for channel
	// pending and due at now, and returns how many there were.
	ResumeWaitingOutbox(ctx context.Context, tenantID, channel string, now time.Time) (int, error)

	// Inbound PSA events. RecordInboundEvent inserts ev unless the
	// integration has an event with its Key, and reports whether it did;
	// a duplicate is no error (and aborts nothing on PostgreSQL).
	RecordInboundEvent(ctx context.Context, ev *InboundEvent) (bool, error)
	// UpdateInboundEvent writes ev's status, outcome, attempts and done time.
	UpdateInboundEvent(ctx context.Context, ev *InboundEvent) error
	InboundEvent(ctx context.Context, tenantID, id string) (InboundEvent, error)
	// ListInboundEvents returns an integration's events, newest first.
	ListInboundEvents(ctx context.Context, tenantID, integrationID string, limit int) ([]InboundEvent, error)

	// Technician links: which PSA member of an integration is which
	// technician. LinkTechnician replaces an existing link of the member.
	LinkTechnician(ctx context.Context, tenantID, integrationID, memberRef, technicianID string, at time.Time) error
	LinkedTechnician(ctx context.Context, tenantID, integrationID, memberRef string) (Technician, error)

	// Integrations; Config is sealed by the caller before it arrives here.
	PutIntegration(ctx context.Context, in *Integration) error
	Integration(ctx context.Context, tenantID, id string) (Integration, error)
	ListIntegrations(ctx context.Context, tenantID string) ([]Integration, error)

	// Agents: devices, their users, bindings and tasks (agent.go).
	AgentTx
	DirectoryTx
	SelfServeTx
	NoticeTx
	WelcomeTx
	SelfServeResetTx
	// Technician resets and unlocks (techdirectory.go).
	TechDirectoryTx

	// Channels, inbound SMS and opt-outs (sms.go, channels.go).
	SMSTx
	// Duo accounts and user mappings (duo.go).
	DuoTx
	// Microsoft 365 connections and imported users (microsoft.go).
	MicrosoftTx

	// Notification groups, their users and the on-call time zone (notify.go).
	NotifyTx
	// Enrolments of agent users: first tickets and registrations, and the
	// tray's one-time ticket forms.
	EnrolmentTx
	TrayFormTx
	// Technician verification by text (techverify.go).
	TechVerifyTx
	// SMS opt-in forms and consents (optin.go).
	OptInTx
}

// ContactQuery filters contacts. Text matches names, emails and phone digits.
type ContactQuery struct {
	ClientID string
	Text     string
	Email    string // exact, normalised
	Phone    string // exact, E.164
	// PSAKind and PSARef find the local mirror of a PSA contact; both are
	// set together (PSAKind "" ignores PSARef).
	PSAKind string
	PSARef  string
	// IncludeDeleted also finds deleted contacts (to restore a PSA mirror).
	IncludeDeleted bool
	Limit          int // 0 means 50
}
