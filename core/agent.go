package core

import (
	"context"
	"time"
)

// Device is a workstation running the Countersign agent, activated against
// one client of a tenant with that client's activation key. The device
// proves itself with a per-device credential; only its SHA-256 is stored
// (the credential carries 256 random bits, so a slow hash adds nothing).
type Device struct {
	ID       string
	TenantID string
	ClientID string
	// Name, OS, Domain and AgentVersion are what the last heartbeat said.
	Name         string
	OS           string
	Domain       string // AD domain (NetBIOS name); "" when not joined
	AgentVersion string
	// CredentialHash is SHA-256 of the device credential's secret part.
	CredentialHash []byte
	CreatedAt      time.Time
	LastSeenAt     time.Time // zero until the first heartbeat
	RevokedAt      time.Time // zero while the device may sign in
}

// Revoked reports whether the device's credential has been revoked.
func (d Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// Online reports whether the device was heard from recently enough to take
// a prompt (its long-poll renews LastSeenAt at least every deviceOnline/2).
func (d Device) Online(now time.Time) bool {
	return !d.Revoked() && !d.LastSeenAt.IsZero() && now.Sub(d.LastSeenAt) < deviceOnline
}

// deviceOnline is how long after its last request a device counts as online.
const deviceOnline = 2 * time.Minute

// DeviceUser is a Windows account seen on a device: a local account, or a
// domain account that logged on. SID is the only identity; the names are
// for people to read.
type DeviceUser struct {
	TenantID    string
	DeviceID    string
	SID         string
	Account     string // DOMAIN\user
	UPN         string // "" for local accounts
	DisplayName string
	Local       bool // a local account of the machine (not a domain account)
	LoggedOn    bool // has a session on the device at the last heartbeat
	SeenAt      time.Time
}

// BindingHow says how a Windows user came to be bound to a PSA contact.
type BindingHow string

// The four ways of binding (seed 000).
const (
	BindFirstTicket BindingHow = "first_ticket"
	BindRegister    BindingHow = "register"
	BindManual      BindingHow = "manual"
	BindHarvester   BindingHow = "harvester"
)

// BindingState is whether a binding is in force.
type BindingState string

// Binding states: a pending binding waits for the user to confirm an e-mail
// and binds nothing yet.
const (
	BindingPending   BindingState = "pending"
	BindingConfirmed BindingState = "confirmed"
)

// Binding ties a Windows SID, within one client, to one PSA contact. It is
// never made on a name match alone.
type Binding struct {
	TenantID    string
	ClientID    string
	SID         string
	ContactID   string
	How         BindingHow
	State       BindingState
	By          string // audit actor that made it, e.g. "tech:tec_…" or "device:dev_…"
	CreatedAt   time.Time
	ConfirmedAt time.Time
}

// AgentTaskKind names what a task asks of a device.
type AgentTaskKind string

// Task kinds.
const (
	// TaskPrompt asks the user with SID to pick the number the technician
	// reads (a workstation prompt); Payload is a PromptTask.
	TaskPrompt AgentTaskKind = "prompt"
	// TaskNotify shows a notification to the user with SID ("" for every
	// user); Payload is a NotifyTask.
	TaskNotify AgentTaskKind = "notify"
)

// AgentTask is work queued for a device and fetched by its long-poll.
type AgentTask struct {
	ID          string
	TenantID    string
	DeviceID    string
	SID         string // the Windows user it is for; "" for the device itself
	Kind        AgentTaskKind
	Payload     []byte // JSON of the kind's payload type
	CreatedAt   time.Time
	ExpiresAt   time.Time // a task not delivered by then is dropped
	DeliveredAt time.Time // zero until a long-poll handed it out
}

// ActivationKey is a client's enrolment token for agents. Its plaintext is
// kept sealed (the console shows it); Hash is SHA-256 of it, for lookup.
type ActivationKey struct {
	TenantID  string
	ClientID  string
	Hash      []byte
	Sealed    []byte
	CreatedAt time.Time
}

// AgentTx is the part of a transaction that holds agents, their users,
// bindings and tasks. Every method that is not an authentication lookup
// takes the tenant explicitly.
type AgentTx interface {
	// PutActivationKey sets (or replaces) the key of a client.
	PutActivationKey(ctx context.Context, k *ActivationKey) error
	ActivationKey(ctx context.Context, tenantID, clientID string) (ActivationKey, error)
	// ActivationKeyByHash finds a key by its hash across tenants: it is how
	// an activation request, which carries nothing else, finds its tenant.
	ActivationKeyByHash(ctx context.Context, hash []byte) (ActivationKey, error)

	CreateDevice(ctx context.Context, d *Device) error
	Device(ctx context.Context, tenantID, id string) (Device, error)
	// DeviceForAuth finds a device by id across tenants, for checking its
	// credential; the caller must compare the hash before trusting it.
	DeviceForAuth(ctx context.Context, id string) (Device, error)
	// UpdateDevice writes name, OS, domain, version, last seen and revoked.
	UpdateDevice(ctx context.Context, d *Device) error
	// TouchDevice sets a device's LastSeenAt alone.
	TouchDevice(ctx context.Context, tenantID, id string, at time.Time) error
	// ListDevices returns a client's devices ("" for every client), by name.
	ListDevices(ctx context.Context, tenantID, clientID string) ([]Device, error)

	// PutDeviceUsers replaces the users seen on a device.
	PutDeviceUsers(ctx context.Context, tenantID, deviceID string, users []DeviceUser) error
	DeviceUsers(ctx context.Context, tenantID, deviceID string) ([]DeviceUser, error)
	// DevicesOfSID returns the devices (of any client of the tenant) on
	// which the SID was seen, newest sighting first.
	DevicesOfSID(ctx context.Context, tenantID, sid string) ([]DeviceUser, error)

	// PutBinding creates or replaces the binding of (tenant, client, SID).
	PutBinding(ctx context.Context, b *Binding) error
	Binding(ctx context.Context, tenantID, clientID, sid string) (Binding, error)
	// BindingsOfContact returns the confirmed bindings of a contact.
	BindingsOfContact(ctx context.Context, tenantID, contactID string) ([]Binding, error)

	CreateAgentTask(ctx context.Context, t *AgentTask) error
	// PendingAgentTasks returns a device's undelivered tasks not expired
	// at now, oldest first.
	PendingAgentTasks(ctx context.Context, tenantID, deviceID string, now time.Time) ([]AgentTask, error)
	// MarkAgentTaskDelivered marks an undelivered task delivered;
	// ErrNotFound when it was delivered or dropped meanwhile (another poll
	// of the device, the sweep of expired tasks).
	MarkAgentTaskDelivered(ctx context.Context, tenantID, id string, at time.Time) error
}

// EnrolmentState is where an enrolment stands.
type EnrolmentState string

// Enrolment states: pending until the user proves the e-mail (the link
// clicked, the password typed); verified while the contact is being made
// in the PSA; done once bound. Failed and superseded ones bind nothing.
const (
	EnrolmentPending    EnrolmentState = "pending"
	EnrolmentVerified   EnrolmentState = "verified"
	EnrolmentDone       EnrolmentState = "done"
	EnrolmentFailed     EnrolmentState = "failed"
	EnrolmentSuperseded EnrolmentState = "superseded"
)

// Enrolment is a Windows user of a device asking to be bound to a contact
// of the device's client: by logging a first ticket (How BindFirstTicket,
// proved by an e-mailed link) or by registering (BindRegister, proved by an
// e-mailed password typed into the tray).
type Enrolment struct {
	ID        string
	TenantID  string
	ClientID  string
	DeviceID  string
	SID       string
	How       BindingHow
	State     EnrolmentState
	FirstName string
	LastName  string
	Email     string
	// ContactID is the matched contact; "" when the contact is to be
	// created in the PSA once the e-mail is proved.
	ContactID     string
	IntegrationID string // the PSA integration of the client; "" for a local client
	Summary       string // the first ticket's summary ("" for a registration)
	Details       string
	SecretHash    []byte // SHA-256 of the link token or password
	Attempts      int    // wrong passwords so far
	CreatedAt     time.Time
	ExpiresAt     time.Time
	DoneAt        time.Time
}

// EnrolmentTx is the part of a transaction that holds enrolments.
type EnrolmentTx interface {
	CreateEnrolment(ctx context.Context, en *Enrolment) error
	// EnrolmentBySecret finds an enrolment by its secret's hash across
	// tenants: a confirmation link carries nothing else.
	EnrolmentBySecret(ctx context.Context, hash []byte) (Enrolment, error)
	Enrolment(ctx context.Context, tenantID, id string) (Enrolment, error)
	// UserEnrolments returns the enrolments of (client, SID) created at or
	// after since, newest first.
	UserEnrolments(ctx context.Context, tenantID, clientID, sid string, since time.Time) ([]Enrolment, error)
	// UpdateEnrolment writes state, contact, attempts and done time.
	UpdateEnrolment(ctx context.Context, en *Enrolment) error
}

// TrayForm is a one-time "Log a ticket" page the tray opens in the user's
// browser, for the Windows user SID of a device (the service identified the
// user from the pipe). Only the token's SHA-256 is stored.
type TrayForm struct {
	ID        string
	TenantID  string
	DeviceID  string
	SID       string
	Purpose   TrayFormPurpose
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until the form is sent
}

// TrayFormPurpose is what a tray form is for.
type TrayFormPurpose string

// Tray form purposes: the tray's "Log a ticket" and "Login / Register".
const (
	TrayFormTicket   TrayFormPurpose = "ticket"
	TrayFormRegister TrayFormPurpose = "register"
)

// TrayFormTx is the part of a transaction that holds tray forms.
type TrayFormTx interface {
	CreateTrayForm(ctx context.Context, f *TrayForm) error
	// TrayFormByHash finds a form by its token's hash across tenants: the
	// page's URL carries nothing else.
	TrayFormByHash(ctx context.Context, hash []byte) (TrayForm, error)
	CountTrayForms(ctx context.Context, tenantID, deviceID, sid string, since time.Time) (int, error)
	// UseTrayForm marks an unused form used; a used one is KindConflict.
	UseTrayForm(ctx context.Context, tenantID, id string, at time.Time) error
}
