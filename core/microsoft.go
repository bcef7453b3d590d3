package core

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Microsoft Authenticator push (channels.md §3): a client's Microsoft 365
// tenant is connected once; Countersign reads its users and their
// registered authentication methods through Microsoft Graph, and pushes
// through the Entra MFA connector (BeginTwoWayAuthentication) to users who
// have the app. The connector is undocumented by Microsoft: it sits behind
// MicrosoftClient, with a per-connection switch (PushEnabled) and the
// server-wide one (Config.Microsoft nil).
const (
	MethodMicrosoftPush Method          = "microsoft_push"
	DestMicrosoft       DestinationKind = "microsoft"
)

// MFAClientAppID is the service principal the connector's token is issued
// to: "Azure Multi-Factor Auth Client" (channels.md §3.1). Its credential
// is the connector secret of a MicrosoftConfig.
const MFAClientAppID = "981f26a1-7f43-403b-a875-f8b09b8cd720"

// MicrosoftConfig is what opens one customer tenant: its Entra tenant (id
// or verified domain), the app that reads Graph (client id and secret),
// and the secret on the MFA Client service principal that the connector
// accepts. It is sealed at rest as one JSON value.
type MicrosoftConfig struct {
	TenantID     string `json:"tenant"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// ConnectorSecret is a client secret of MFAClientAppID in the tenant.
	ConnectorSecret string `json:"connector_secret,omitempty"`
	// ConnectorCert and ConnectorKey are a certificate credential of
	// MFAClientAppID (PEM; the key PKCS #8), preferred over the secret as
	// the AD FS adapter and NPS extension do (channels.md §3.1). With
	// neither, push is unavailable (import still works).
	ConnectorCert string `json:"connector_cert,omitempty"`
	ConnectorKey  string `json:"connector_key,omitempty"`
}

// HasConnectorCredential reports whether c can get a connector token.
func (c MicrosoftConfig) HasConnectorCredential() bool {
	return c.ConnectorSecret != "" || c.ConnectorCert != "" && c.ConnectorKey != ""
}

var (
	guidRE        = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	entraDomainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// ValidEntraTenant reports whether s is an Entra tenant id (a GUID) or a
// domain name such as contoso.onmicrosoft.com. It goes into the login
// URL's path, so nothing else is accepted.
func ValidEntraTenant(s string) bool {
	return guidRE.MatchString(s) || len(s) <= 253 && entraDomainRE.MatchString(strings.ToLower(s))
}

// Validate reports what is wrong with c, for the setup form.
func (c MicrosoftConfig) Validate() error {
	switch {
	case !ValidEntraTenant(c.TenantID):
		return Errorf(KindInvalid, "the tenant is the customer's Microsoft Entra tenant id (a GUID) or its domain (contoso.onmicrosoft.com)")
	case !guidRE.MatchString(c.ClientID):
		return Errorf(KindInvalid, "the application (client) id is a GUID (copy it from the app registration's overview)")
	case c.ClientSecret == "" || len(c.ClientSecret) > 1024:
		return Errorf(KindInvalid, "the client secret is required (the secret's value, not its id)")
	case len(c.ConnectorSecret) > 1024:
		return Errorf(KindInvalid, "the MFA connector secret is too long")
	case (c.ConnectorCert == "") != (c.ConnectorKey == ""):
		return Errorf(KindInvalid, "the MFA connector certificate needs its private key")
	}
	return nil
}

// MicrosoftSource says where a user lives: only in the cloud, or synced
// from on-premises Active Directory (onPremisesSyncEnabled).
const (
	MicrosoftCloudOnly = "cloud-only"
	MicrosoftSynced    = "synced"
)

// MicrosoftAuthenticatorType is Graph's @odata.type of a registered
// Microsoft Authenticator (channels.md §3.7).
const MicrosoftAuthenticatorType = "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"

// MicrosoftDirectoryUser is a user as Graph lists them.
type MicrosoftDirectoryUser struct {
	ObjectID    string
	UPN         string
	Mail        string
	Mobile      string
	DisplayName string
	Source      string // MicrosoftCloudOnly or MicrosoftSynced
	Enabled     bool
}

// MicrosoftPush is one BeginTwoWayAuthentication to send.
type MicrosoftPush struct {
	UPN string
	// ContextID is a fresh GUID, kept as the verification's ProviderRef.
	ContextID string
	Lcid      string // "" means en-us
}

// MicrosoftResult is the connector's answer (channels.md §3.4).
type MicrosoftResult struct {
	AuthenticationResult bool
	Value                string // Result/Value
	Message              string // Result/Message; "" when nil
	SessionID            string
	// Raw is the response body, for the log when the value is unexpected.
	Raw string
}

// MicrosoftClient talks to one customer tenant. core/microsoft implements
// it with golang.org/x/oauth2 and net/http. It is safe for concurrent use.
// Errors: Microsoft's refusal of a credential is a *MicrosoftError; the
// network, a 5xx or throttling that outlasts the retries is
// KindUnavailable or KindRateLimited.
type MicrosoftClient interface {
	// Check gets a Graph token and reads one user: it proves the tenant,
	// the app, its secret and its consent.
	Check(ctx context.Context) error
	// CheckConnector gets a connector token (the MFA Client secret).
	CheckConnector(ctx context.Context) error
	// Users lists every user of the tenant, following Graph's paging.
	Users(ctx context.Context) ([]MicrosoftDirectoryUser, error)
	// AuthMethods lists the @odata.type of each authentication method
	// registered for a user (by object id or UPN).
	AuthMethods(ctx context.Context, user string) ([]string, error)
	// BeginTwoWay sends an approve-only Authenticator push and waits for
	// the answer (SyncCall): up to about three minutes.
	BeginTwoWay(ctx context.Context, p MicrosoftPush) (MicrosoftResult, error)
}

// MicrosoftConnector opens a client for a connection's configuration.
type MicrosoftConnector func(cfg MicrosoftConfig) (MicrosoftClient, error)

// MicrosoftError is Microsoft's own refusal: a token request answered with
// an AADSTS code, or Graph's error object.
type MicrosoftError struct {
	HTTPStatus int
	// Code is "AADSTS7000215" for the token endpoint, Graph's error code
	// ("Authorization_RequestDenied") otherwise.
	Code    string
	Message string
}

func (e *MicrosoftError) Error() string {
	return fmt.Sprintf("microsoft: %d %s: %s", e.HTTPStatus, e.Code, e.Message)
}

// MicrosoftConnection is a client's connected Microsoft 365 tenant.
type MicrosoftConnection struct {
	ID       string
	TenantID string
	ClientID string // the MSP's client; one connection per client
	Name     string
	// EntraTenant is the customer tenant (id or domain), also inside Sealed.
	EntraTenant string
	// PushEnabled is the connection's kill switch for the connector push.
	PushEnabled bool
	Sealed      []byte // sealed MicrosoftConfig
	CheckedAt   time.Time
	CheckResult string
	// ImportedAt is the last user import; zero before the first.
	ImportedAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// MicrosoftUser is an imported user of a connection and, when matched, the
// contact they are.
type MicrosoftUser struct {
	TenantID     string
	ConnectionID string
	ObjectID     string
	UPN          string
	Mail         string
	Mobile       string
	DisplayName  string
	Source       string
	Enabled      bool
	// Authenticator reports whether Microsoft Authenticator is registered.
	Authenticator bool
	// Methods are the registered methods' short names ("sms",
	// "microsoftAuthenticator", …), comma-separated, for the page.
	Methods string
	// ContactID is the matched contact ("" none); MatchedBy says how
	// ("mail", "upn", "manual") or why not ("several contacts").
	ContactID  string
	MatchedBy  string
	ImportedAt time.Time
}

// MicrosoftTx is the store's part for Microsoft connections and users.
// Every method takes the tenant explicitly.
type MicrosoftTx interface {
	// PutMicrosoftConnection creates or replaces a connection by id; a
	// second one for the same client is ErrConflict.
	PutMicrosoftConnection(ctx context.Context, c *MicrosoftConnection) error
	MicrosoftConnection(ctx context.Context, tenantID, id string) (MicrosoftConnection, error)
	MicrosoftConnectionOfClient(ctx context.Context, tenantID, clientID string) (MicrosoftConnection, error)
	ListMicrosoftConnections(ctx context.Context, tenantID string) ([]MicrosoftConnection, error)
	// DeleteMicrosoftConnection removes a connection and its users.
	DeleteMicrosoftConnection(ctx context.Context, tenantID, id string) error
	// ReplaceMicrosoftUsers makes users the connection's whole user list.
	ReplaceMicrosoftUsers(ctx context.Context, tenantID, connectionID string, users []MicrosoftUser) error
	PutMicrosoftUser(ctx context.Context, u *MicrosoftUser) error
	ListMicrosoftUsers(ctx context.Context, tenantID, connectionID string) ([]MicrosoftUser, error)
	// ListMicrosoftUsersPage returns at most limit users ordered by UPN
	// then object id, after the one (afterUPN, afterObject); "" and ""
	// start at the first.
	ListMicrosoftUsersPage(ctx context.Context, tenantID, connectionID, afterUPN, afterObject string, limit int) ([]MicrosoftUser, error)
	// MicrosoftUserOfContact returns the user matched to a contact.
	MicrosoftUserOfContact(ctx context.Context, tenantID, connectionID, contactID string) (MicrosoftUser, error)

	// CreateMicrosoftConsent stores a started admin consent.
	CreateMicrosoftConsent(ctx context.Context, c *MicrosoftConsent) error
	// LockMicrosoftConsent returns the consent whose state hashes to
	// stateHash, locked for the transaction.
	LockMicrosoftConsent(ctx context.Context, tenantID string, stateHash []byte) (MicrosoftConsent, error)
	// FinishMicrosoftConsent records a consent's use and answer.
	FinishMicrosoftConsent(ctx context.Context, c *MicrosoftConsent) error
	// LatestMicrosoftConsent returns a client's newest granted consent.
	LatestMicrosoftConsent(ctx context.Context, tenantID, clientID string) (MicrosoftConsent, error)
}

// MicrosoftConsent is one admin consent round trip: started by Actor for
// ClientID, answered once.
type MicrosoftConsent struct {
	TenantID    string
	StateHash   []byte // SHA-256 of the state nonce; the nonce is never stored
	ClientID    string
	Actor       string
	AppClientID string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time // zero until the answer came back
	// EntraTenant is the tenant that consented (Microsoft's answer).
	EntraTenant string
	// Result is "granted" or what Microsoft said instead.
	Result string
}
