package core

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Duo push (channels.md §2): a technician presses Push, Countersign asks Duo
// to push to the phone the end user already uses for work, and only Duo's
// allow/allow for that push verifies.
const (
	MethodDuoPush Method          = "duo_push"
	DestDuo       DestinationKind = "duo"
)

// DuoConfig is what opens a Duo Auth API application: its integration key,
// secret key and API host. It is sealed at rest as one JSON value.
type DuoConfig struct {
	IntegrationKey string `json:"ikey"`
	SecretKey      string `json:"skey"`
	APIHost        string `json:"host"`
}

// duoHostRE is the shape of Duo's API hosts (api-XXXXXXXX.duosecurity.com,
// and the federal and other regional domains Duo hands out).
var duoHostRE = regexp.MustCompile(`^api-[a-z0-9]{4,16}\.(duosecurity|duofederal)\.com$`)

// Validate reports what is wrong with c, for the setup form.
func (c DuoConfig) Validate() error {
	switch {
	case len(c.IntegrationKey) != 20 || !isUpperAlnum(c.IntegrationKey):
		return Errorf(KindInvalid, "the integration key is 20 letters and digits, starting DI (copy it from the Duo Admin Panel's Auth API application)")
	case len(c.SecretKey) != 40:
		return Errorf(KindInvalid, "the secret key is 40 characters (copy it from the Duo Admin Panel; it is shown once)")
	case c.APIHost == "":
		return Errorf(KindInvalid, "the API hostname is required (e.g. api-1a2b3c4d.duosecurity.com)")
	}
	return nil
}

// ValidDuoHost reports whether host looks like one of Duo's API hosts. The
// server refuses others, so a setup form cannot make it call any host
// (server-side request forgery); tests allow loopback fakes explicitly.
func ValidDuoHost(host string) bool { return duoHostRE.MatchString(strings.ToLower(host)) }

func isUpperAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// DuoAccount is one Duo Auth API application of a tenant: the tenant's own
// (ClientID "") or a client's, when that client has its own Duo account.
type DuoAccount struct {
	ID       string
	TenantID string
	ClientID string // "" is the tenant's default account
	Name     string
	// VerifiedPush asks Duo for Verified Duo Push, where the account has it
	// on: the technician reads Duo's code to the caller, who types it.
	VerifiedPush bool
	Sealed       []byte // sealed DuoConfig
	// CheckedAt and CheckResult are the last live check (/auth/v2/check):
	// CheckResult is "ok" or what failed, in words.
	CheckedAt   time.Time
	CheckResult string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// DuoUser maps a contact to a Duo username under one account. MatchedBy
// says how: "email", "email local part" or "manual" (an admin's edit).
type DuoUser struct {
	TenantID  string
	AccountID string
	ContactID string
	Username  string
	MatchedBy string
	UpdatedBy string
	UpdatedAt time.Time
}

// DuoTx is the store's part for Duo accounts and user mappings. Every
// method takes the tenant explicitly.
type DuoTx interface {
	// PutDuoAccount creates or replaces an account by id; a second account
	// for the same client is ErrConflict.
	PutDuoAccount(ctx context.Context, a *DuoAccount) error
	DuoAccount(ctx context.Context, tenantID, id string) (DuoAccount, error)
	// DuoAccountOfClient returns the account whose ClientID is exactly
	// clientID ("" the tenant default).
	DuoAccountOfClient(ctx context.Context, tenantID, clientID string) (DuoAccount, error)
	ListDuoAccounts(ctx context.Context, tenantID string) ([]DuoAccount, error)
	// DeleteDuoAccount removes an account and its user mappings.
	DeleteDuoAccount(ctx context.Context, tenantID, id string) error
	PutDuoUser(ctx context.Context, u *DuoUser) error
	DuoUser(ctx context.Context, tenantID, accountID, contactID string) (DuoUser, error)
	ListDuoUsers(ctx context.Context, tenantID, accountID string) ([]DuoUser, error)
}

// DuoDevice is a device Duo reports for a user at preauth.
type DuoDevice struct {
	ID           string
	Type         string
	Name         string
	Number       string
	Capabilities []string
}

// CanPush reports whether Duo can push to d.
func (d DuoDevice) CanPush() bool {
	for _, c := range d.Capabilities {
		if c == "push" {
			return true
		}
	}
	return false
}

// DuoPreauth is Duo's answer to /auth/v2/preauth.
type DuoPreauth struct {
	Result    string // auth | allow | deny | enroll
	StatusMsg string
	Devices   []DuoDevice
	// Txid is set with Verified Duo Push support; it goes to the push.
	Txid string
}

// DuoPush is one push to send.
type DuoPush struct {
	Username string
	Device   string
	// Type is shown in Duo Mobile as "<Type> request".
	Type string
	// Info is the pushinfo Duo Mobile shows: MSP, technician, ticket.
	Info [][2]string
	// Txid is preauth's, for Verified Duo Push; "" otherwise.
	Txid string
}

// DuoStatus is one answer of /auth/v2/auth_status.
type DuoStatus struct {
	Result    string // waiting | allow | deny
	Status    string // pushed, allow, bypass, deny, fraud, timeout, …
	StatusMsg string
}

// DuoClient talks to one Duo account. core/duo implements it with
// duo_api_golang. Errors: an outright refusal by Duo (stat FAIL) is a
// *DuoError; the network or a 5xx is KindUnavailable. Every method honours
// ctx (the library does not; the adapter stops waiting instead).
type DuoClient interface {
	// Check proves keys, signature and clock (/auth/v2/check).
	Check(ctx context.Context) error
	Preauth(ctx context.Context, username string, verifiedPush bool) (DuoPreauth, error)
	// Push sends an asynchronous push and returns its txid.
	Push(ctx context.Context, p DuoPush) (string, error)
	// Status long-polls the push's state: it returns at the next change.
	Status(ctx context.Context, txid string) (DuoStatus, error)
}

// DuoConnector opens a client for an account's configuration.
type DuoConnector func(cfg DuoConfig) (DuoClient, error)

// DuoError is Duo's own refusal ({"stat":"FAIL"}): bad keys, a bad
// signature, a clock off by too much, bad parameters.
type DuoError struct {
	HTTPStatus int
	Code       int
	Message    string
	Detail     string
}

func (e *DuoError) Error() string {
	s := fmt.Sprintf("duo: %d %s", e.Code, e.Message)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// duoAccountAAD binds an account's sealed config to its row.
func duoAccountAAD(tenantID, id string) []byte {
	return []byte("duo-account\x00" + tenantID + "\x00" + id)
}

// DuoAccountInput is what the setup form sends. An empty SecretKey on an
// existing account keeps the stored one (the form never shows it).
type DuoAccountInput struct {
	ID           string
	ClientID     string
	Name         string
	Config       DuoConfig
	VerifiedPush bool
}

// DuoAccountView is an account as the setup page shows it: no secret key.
type DuoAccountView struct {
	DuoAccount
	IntegrationKey string
	APIHost        string
}

// SaveDuoAccount checks the keys live against Duo and stores them sealed.
// Keys that Duo refuses are not saved: the error says why.
func (e *Engine) SaveDuoAccount(ctx context.Context, tenantID, actor string, in DuoAccountInput) (DuoAccountView, error) {
	if e.cfg.Duo == nil {
		return DuoAccountView{}, Errorf(KindUnavailable, "Duo is not available on this server")
	}
	in.Name = strings.TrimSpace(in.Name)
	in.Config.IntegrationKey = strings.TrimSpace(in.Config.IntegrationKey)
	in.Config.SecretKey = strings.TrimSpace(in.Config.SecretKey)
	in.Config.APIHost = strings.ToLower(strings.TrimSpace(in.Config.APIHost))
	if in.Name == "" {
		in.Name = "Duo"
	}
	if utf8.RuneCountInString(in.Name) > 100 {
		return DuoAccountView{}, Errorf(KindInvalid, "the name must be at most 100 characters")
	}
	var old DuoAccount
	if in.ID != "" {
		err := e.cfg.Store.View(ctx, func(tx Tx) error {
			var err error
			old, err = tx.DuoAccount(ctx, tenantID, in.ID)
			return err
		})
		if err != nil {
			return DuoAccountView{}, err
		}
		if in.Config.SecretKey == "" {
			prev, err := e.openDuo(old)
			if err != nil {
				return DuoAccountView{}, err
			}
			in.Config.SecretKey = prev.SecretKey
		}
	}
	if err := in.Config.Validate(); err != nil {
		return DuoAccountView{}, err
	}
	if in.ClientID != "" {
		if _, err := e.Client(ctx, tenantID, in.ClientID); err != nil {
			return DuoAccountView{}, err
		}
	}
	if err := e.duoCheck(ctx, in.Config); err != nil {
		return DuoAccountView{}, err
	}
	now := e.Now()
	a := DuoAccount{ID: in.ID, TenantID: tenantID, ClientID: in.ClientID, Name: in.Name, VerifiedPush: in.VerifiedPush,
		CheckedAt: now, CheckResult: "ok", CreatedAt: now, UpdatedAt: now}
	if a.ID == "" {
		a.ID = NewID("duo")
	} else {
		a.CreatedAt = old.CreatedAt
	}
	plain, err := json.Marshal(in.Config)
	if err != nil {
		return DuoAccountView{}, err
	}
	if a.Sealed, err = e.cfg.Sealer.Seal(plain, duoAccountAAD(tenantID, a.ID)); err != nil {
		return DuoAccountView{}, err
	}
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.PutDuoAccount(ctx, &a); err != nil {
			if ErrorKind(err) == KindConflict {
				return Errorf(KindConflict, "this client already has a Duo account; edit that one")
			}
			return err
		}
		d := map[string]string{"name": a.Name, "host": in.Config.APIHost, "ikey": in.Config.IntegrationKey,
			"verified_push": fmt.Sprint(a.VerifiedPush)}
		if a.ClientID != "" {
			d["client"] = a.ClientID
		}
		return e.audit(ctx, tx, tenantID, actor, AuditDuoSaved, a.ID, d)
	})
	if err != nil {
		return DuoAccountView{}, err
	}
	return DuoAccountView{DuoAccount: a, IntegrationKey: in.Config.IntegrationKey, APIHost: in.Config.APIHost}, nil
}

// duoCheck runs Duo's /auth/v2/check with cfg and says in words what failed.
func (e *Engine) duoCheck(ctx context.Context, cfg DuoConfig) error {
	c, err := e.cfg.Duo(cfg)
	if err != nil {
		return err
	}
	if err := c.Check(ctx); err != nil {
		return duoSetupError(err)
	}
	return nil
}

// duoRefusalWords says what Duo's refusal de means for whoever fixes it
// — the keys or this server's clock — or "" for a code it does not name.
// The setup check and a push both say it.
func duoRefusalWords(de *DuoError) string {
	switch de.Code {
	case 40102:
		return "Duo does not know this integration key"
	case 40103:
		return "Duo refused the signature: the secret key is wrong"
	case 40105:
		return "Duo refused the request's date: this server's clock is off; keep it NTP-synced"
	}
	return ""
}

// duoSetupError turns a failed check into what the admin should fix.
func duoSetupError(err error) error {
	var de *DuoError
	if asDuoError(err, &de) {
		if w := duoRefusalWords(de); w != "" {
			return Errorf(KindInvalid, "%s (%s)", w, de.Message)
		}
		return Errorf(KindInvalid, "Duo refused the keys: %s", de.Error())
	}
	if ErrorKind(err) == KindInvalid {
		return err
	}
	return Errorf(KindUnavailable, "Duo could not be reached to check the keys: %v", err)
}

// CheckDuoAccount re-runs the live check of a stored account and records it.
func (e *Engine) CheckDuoAccount(ctx context.Context, tenantID, actor, id string) (DuoAccount, error) {
	if e.cfg.Duo == nil {
		return DuoAccount{}, Errorf(KindUnavailable, "Duo is not available on this server")
	}
	var a DuoAccount
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		a, err = tx.DuoAccount(ctx, tenantID, id)
		return err
	})
	if err != nil {
		return DuoAccount{}, err
	}
	cfg, err := e.openDuo(a)
	if err != nil {
		return DuoAccount{}, err
	}
	checkErr := e.duoCheck(ctx, cfg)
	a.CheckedAt, a.CheckResult = e.Now(), "ok"
	if checkErr != nil {
		a.CheckResult = ErrorMessage(checkErr)
	}
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.PutDuoAccount(ctx, &a); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditDuoChecked, a.ID, map[string]string{"result": a.CheckResult})
	})
	if err != nil {
		return DuoAccount{}, err
	}
	return a, checkErr
}

// DuoAccounts lists a tenant's Duo accounts without their secret keys.
func (e *Engine) DuoAccounts(ctx context.Context, tenantID string) ([]DuoAccountView, error) {
	var as []DuoAccount
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		as, err = tx.ListDuoAccounts(ctx, tenantID)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]DuoAccountView, 0, len(as))
	for _, a := range as {
		cfg, err := e.openDuo(a)
		if err != nil {
			return nil, err
		}
		out = append(out, DuoAccountView{DuoAccount: a, IntegrationKey: cfg.IntegrationKey, APIHost: cfg.APIHost})
	}
	return out, nil
}

// DeleteDuoAccount removes an account and its user mappings, audited.
func (e *Engine) DeleteDuoAccount(ctx context.Context, tenantID, actor, id string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.DeleteDuoAccount(ctx, tenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditDuoDeleted, id, nil)
	})
}

// DuoUsers lists an account's contact → username mappings.
func (e *Engine) DuoUsers(ctx context.Context, tenantID, accountID string) ([]DuoUser, error) {
	var us []DuoUser
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		if _, err := tx.DuoAccount(ctx, tenantID, accountID); err != nil {
			return err
		}
		var err error
		us, err = tx.ListDuoUsers(ctx, tenantID, accountID)
		return err
	})
	return us, err
}

// duoUsernameRE is what Countersign accepts as a Duo username or alias.
var duoUsernameRE = regexp.MustCompile(`^[A-Za-z0-9._@+\\-]{1,100}$`)

// SetDuoUser sets (an admin's edit) the Duo username of a contact under an
// account; the matcher never overwrites a manual mapping.
func (e *Engine) SetDuoUser(ctx context.Context, tenantID, actor, accountID, contactID, username string) (DuoUser, error) {
	username = strings.TrimSpace(username)
	if !duoUsernameRE.MatchString(username) {
		return DuoUser{}, Errorf(KindInvalid, "a Duo username is letters, digits and . _ @ + - \\ (at most 100)")
	}
	u := DuoUser{TenantID: tenantID, AccountID: accountID, ContactID: contactID, Username: username,
		MatchedBy: "manual", UpdatedBy: actor, UpdatedAt: e.Now()}
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		if _, err := tx.DuoAccount(ctx, tenantID, accountID); err != nil {
			return err
		}
		if _, err := tx.Contact(ctx, tenantID, contactID); err != nil {
			return err
		}
		if err := tx.PutDuoUser(ctx, &u); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditDuoUserMapped, contactID,
			map[string]string{"account": accountID, "username": username, "matched_by": u.MatchedBy})
	})
	return u, err
}

func (e *Engine) openDuo(a DuoAccount) (DuoConfig, error) {
	plain, err := e.cfg.Sealer.Open(a.Sealed, duoAccountAAD(a.TenantID, a.ID))
	if err != nil {
		return DuoConfig{}, Errorf(KindInternal, "Duo account %s: its keys cannot be decrypted with the current master key", a.ID)
	}
	var c DuoConfig
	if err := json.Unmarshal(plain, &c); err != nil {
		return DuoConfig{}, fmt.Errorf("core: decode Duo account %s: %w", a.ID, err)
	}
	return c, nil
}

// duoAccountFor returns the Duo account that serves a client: its own, else
// the tenant's default.
func duoAccountFor(ctx context.Context, tx Tx, tenantID, clientID string) (DuoAccount, error) {
	if clientID != "" {
		a, err := tx.DuoAccountOfClient(ctx, tenantID, clientID)
		if err == nil || !isNotFound(err) {
			return a, err
		}
	}
	a, err := tx.DuoAccountOfClient(ctx, tenantID, "")
	if isNotFound(err) {
		return DuoAccount{}, Errorf(KindInvalid, "Duo is not set up for this client; an admin can add it on the Duo page")
	}
	return a, err
}

// duoCandidates are the usernames tried for a contact without a mapping:
// each e-mail address on record, then its local part (Duo usernames are
// often the part before the @; preauth matches aliases too).
func duoCandidates(c Contact) []DuoUser {
	var out []DuoUser
	seen := map[string]bool{}
	add := func(name, by string) {
		if name != "" && !seen[name] && duoUsernameRE.MatchString(name) {
			seen[name] = true
			out = append(out, DuoUser{ContactID: c.ID, Username: name, MatchedBy: by})
		}
	}
	for _, d := range c.Destinations {
		if d.Kind == DestEmail {
			add(d.Value, "email")
		}
	}
	for _, d := range c.Destinations {
		if d.Kind == DestEmail {
			if at := strings.LastIndexByte(d.Value, '@'); at > 0 {
				add(d.Value[:at], "email local part")
			}
		}
	}
	return out
}
