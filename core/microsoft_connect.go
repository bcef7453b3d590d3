package core

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// microsoftCallTimeout bounds one Graph step (a check, a user's methods);
// an import of a large tenant gets microsoftImportTimeout in all.
const (
	microsoftCallTimeout   = 20 * time.Second
	microsoftImportTimeout = 10 * time.Minute
	// microsoftImportWorkers read users' methods at once: Graph throttles
	// per app and tenant, and the client waits out its 429s.
	microsoftImportWorkers = 4
)

// msConnectionAAD binds a connection's sealed config to its row.
func msConnectionAAD(tenantID, id string) []byte {
	return []byte("microsoft-connection\x00" + tenantID + "\x00" + id)
}

// MicrosoftConnectionInput is what the setup form sends. Empty secrets on
// an existing connection keep the stored ones (the form never shows them).
type MicrosoftConnectionInput struct {
	ID       string
	ClientID string
	Name     string
	Config   MicrosoftConfig
	// PushEnabled turns the connector push on for this client; it needs
	// a connector credential and is off by default (the connector is
	// undocumented by Microsoft, channels.md §3).
	PushEnabled bool
}

// MicrosoftConnectionView is a connection as the setup page shows it: the
// ids, whether each secret is set, the connector certificate (public),
// never a secret or the private key.
type MicrosoftConnectionView struct {
	MicrosoftConnection
	AppClientID        string
	HasConnectorSecret bool
	// ConnectorCert is the certificate to add to the MFA Client service
	// principal (PEM), "" when none was generated.
	ConnectorCert string
}

func viewMicrosoft(c MicrosoftConnection, cfg MicrosoftConfig) MicrosoftConnectionView {
	return MicrosoftConnectionView{MicrosoftConnection: c, AppClientID: cfg.ClientID,
		HasConnectorSecret: cfg.ConnectorSecret != "", ConnectorCert: cfg.ConnectorCert}
}

// SaveMicrosoftConnection checks the credentials live against Microsoft
// (a Graph token and one read; a connector token when push is on) and
// stores them sealed. Credentials Microsoft refuses are not saved.
func (e *Engine) SaveMicrosoftConnection(ctx context.Context, tenantID, actor string, in MicrosoftConnectionInput) (MicrosoftConnectionView, error) {
	if e.cfg.Microsoft == nil {
		return MicrosoftConnectionView{}, Errorf(KindUnavailable, "Microsoft 365 is not available on this server")
	}
	in.Name = strings.TrimSpace(in.Name)
	in.Config.TenantID = strings.ToLower(strings.TrimSpace(in.Config.TenantID))
	in.Config.ClientID = strings.ToLower(strings.TrimSpace(in.Config.ClientID))
	in.Config.ClientSecret = strings.TrimSpace(in.Config.ClientSecret)
	in.Config.ConnectorSecret = strings.TrimSpace(in.Config.ConnectorSecret)
	if in.Name == "" {
		in.Name = "Microsoft 365"
	}
	switch {
	case utf8.RuneCountInString(in.Name) > 100:
		return MicrosoftConnectionView{}, Errorf(KindInvalid, "the name must be at most 100 characters")
	case in.ClientID == "":
		return MicrosoftConnectionView{}, Errorf(KindInvalid, "a Microsoft 365 tenant is connected for one client: choose the client")
	}
	var old MicrosoftConnection
	if in.ID != "" {
		err := e.cfg.Store.View(ctx, func(tx Tx) error {
			var err error
			old, err = tx.MicrosoftConnection(ctx, tenantID, in.ID)
			return err
		})
		if err != nil {
			return MicrosoftConnectionView{}, err
		}
		prev, err := e.openMicrosoft(old)
		if err != nil {
			return MicrosoftConnectionView{}, err
		}
		if in.Config.ClientSecret == "" {
			in.Config.ClientSecret = prev.ClientSecret
		}
		if in.Config.ConnectorSecret == "" {
			in.Config.ConnectorSecret = prev.ConnectorSecret
		}
		// The certificate is made by GenerateMicrosoftConnectorCertificate,
		// never sent by the form.
		in.Config.ConnectorCert, in.Config.ConnectorKey = prev.ConnectorCert, prev.ConnectorKey
	}
	if err := in.Config.Validate(); err != nil {
		return MicrosoftConnectionView{}, err
	}
	if in.PushEnabled && !in.Config.HasConnectorCredential() {
		return MicrosoftConnectionView{}, Errorf(KindInvalid, "push needs a credential of the Azure Multi-Factor Auth Client service principal (%s): generate Countersign's certificate and add it there, or enter a client secret", MFAClientAppID)
	}
	if _, err := e.Client(ctx, tenantID, in.ClientID); err != nil {
		return MicrosoftConnectionView{}, err
	}
	if err := e.microsoftCheck(ctx, in.Config, in.PushEnabled); err != nil {
		return MicrosoftConnectionView{}, err
	}
	now := e.Now()
	c := MicrosoftConnection{ID: in.ID, TenantID: tenantID, ClientID: in.ClientID, Name: in.Name, EntraTenant: in.Config.TenantID,
		PushEnabled: in.PushEnabled, CheckedAt: now, CheckResult: "ok", CreatedAt: now, UpdatedAt: now}
	if c.ID == "" {
		c.ID = NewID("msc")
	} else {
		c.CreatedAt, c.ImportedAt = old.CreatedAt, old.ImportedAt
	}
	if err := e.sealMicrosoft(&c, in.Config); err != nil {
		return MicrosoftConnectionView{}, err
	}
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.PutMicrosoftConnection(ctx, &c); err != nil {
			if ErrorKind(err) == KindConflict {
				return Errorf(KindConflict, "this client already has a Microsoft 365 tenant connected; edit that one")
			}
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftSaved, c.ID, map[string]string{
			"name": c.Name, "client": c.ClientID, "entra_tenant": c.EntraTenant, "app": in.Config.ClientID,
			"push_enabled": fmt.Sprint(c.PushEnabled), "connector_secret": fmt.Sprint(in.Config.ConnectorSecret != ""),
			"connector_cert": fmt.Sprint(in.Config.ConnectorCert != "")})
	})
	if err != nil {
		return MicrosoftConnectionView{}, err
	}
	return viewMicrosoft(c, in.Config), nil
}

// microsoftCheck proves cfg against Microsoft and says in words what failed.
func (e *Engine) microsoftCheck(ctx context.Context, cfg MicrosoftConfig, push bool) error {
	c, err := e.cfg.Microsoft(cfg)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, microsoftCallTimeout)
	defer cancel()
	if err := c.Check(cctx); err != nil {
		return microsoftSetupError(err, false)
	}
	if push {
		if err := c.CheckConnector(cctx); err != nil {
			return microsoftSetupError(err, true)
		}
	}
	return nil
}

// microsoftSetupError turns a failed check into what the admin should fix
// (channels.md §3.1 for the connector's codes).
func microsoftSetupError(err error, connector bool) error {
	var me *MicrosoftError
	if errors.As(err, &me) {
		switch {
		case me.Code == "AADSTS7000215" && connector:
			return Errorf(KindInvalid, "Microsoft refused the MFA connector secret: it is wrong or expired (use the secret's value)")
		case me.Code == "AADSTS7000215":
			return Errorf(KindInvalid, "Microsoft refused the client secret: it is wrong or expired (use the secret's value, not its id)")
		case me.Code == "AADSTS7000222":
			return Errorf(KindInvalid, "the client secret has expired: create a new one")
		case me.Code == "AADSTS700027":
			return Errorf(KindInvalid, "Microsoft does not accept Countersign's connector certificate yet: add it to the Azure Multi-Factor Auth Client service principal (%s) in the customer's tenant, then check again", MFAClientAppID)
		case me.Code == "AADSTS700024":
			return Errorf(KindInvalid, "Microsoft refused the certificate's signed request as outside its time range: this server's clock is off; keep it NTP-synced")
		case me.Code == "AADSTS90002":
			return Errorf(KindInvalid, "Microsoft does not know this tenant: check the tenant id or domain")
		case me.Code == "AADSTS700016":
			return Errorf(KindInvalid, "the application (client) id is not in this tenant: has the tenant's admin consented to it?")
		case me.Code == "AADSTS7000112":
			return Errorf(KindInvalid, "the Azure Multi-Factor Auth Client app (%s) is disabled in this tenant: enable it", MFAClientAppID)
		case me.Code == "AADSTS500014":
			return Errorf(KindInvalid, "the Azure Multi-Factor Auth Connector app (1f5530b3-261a-47a9-b357-ded261e17918) is disabled in this tenant: enable it")
		case me.HTTPStatus == 403:
			return Errorf(KindInvalid, "the app may not read users: grant User.Read.All and UserAuthenticationMethod.Read.All and give admin consent (%s)", ClipRunes(me.Code, 60, Ellipsis))
		}
		return Errorf(KindInvalid, "Microsoft refused the credentials: %s %s", ClipRunes(me.Code, 40, Ellipsis), ClipRunes(me.Message, 160, Ellipsis))
	}
	switch ErrorKind(err) {
	case KindInvalid:
		return err
	case KindRateLimited:
		return Errorf(KindRateLimited, "Microsoft is throttling this app; try again in a few minutes")
	}
	return Errorf(KindUnavailable, "Microsoft could not be reached to check the tenant: %s", errorWords(err))
}

// CheckMicrosoftConnection re-runs the live check of a stored connection
// and records it.
func (e *Engine) CheckMicrosoftConnection(ctx context.Context, tenantID, actor, id string) (MicrosoftConnection, error) {
	if e.cfg.Microsoft == nil {
		return MicrosoftConnection{}, Errorf(KindUnavailable, "Microsoft 365 is not available on this server")
	}
	var c MicrosoftConnection
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		c, err = tx.MicrosoftConnection(ctx, tenantID, id)
		return err
	})
	if err != nil {
		return MicrosoftConnection{}, err
	}
	cfg, err := e.openMicrosoft(c)
	if err != nil {
		return MicrosoftConnection{}, err
	}
	checkErr := e.microsoftCheck(ctx, cfg, c.PushEnabled)
	c.CheckedAt, c.CheckResult = e.Now(), "ok"
	if checkErr != nil {
		c.CheckResult = errorWords(checkErr)
	}
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.PutMicrosoftConnection(ctx, &c); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftChecked, c.ID, map[string]string{"result": c.CheckResult})
	})
	if err != nil {
		return MicrosoftConnection{}, err
	}
	return c, checkErr
}

// MicrosoftConnections lists a tenant's connections without their secrets.
func (e *Engine) MicrosoftConnections(ctx context.Context, tenantID string) ([]MicrosoftConnectionView, error) {
	var cs []MicrosoftConnection
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		cs, err = tx.ListMicrosoftConnections(ctx, tenantID)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]MicrosoftConnectionView, 0, len(cs))
	for _, c := range cs {
		cfg, err := e.openMicrosoft(c)
		if err != nil {
			return nil, err
		}
		out = append(out, viewMicrosoft(c, cfg))
	}
	return out, nil
}

// DeleteMicrosoftConnection removes a connection and its users, audited.
func (e *Engine) DeleteMicrosoftConnection(ctx context.Context, tenantID, actor, id string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.DeleteMicrosoftConnection(ctx, tenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftDeleted, id, nil)
	})
}

// MicrosoftUsers lists a connection's imported users.
func (e *Engine) MicrosoftUsers(ctx context.Context, tenantID, connectionID string) ([]MicrosoftUser, error) {
	var us []MicrosoftUser
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		if _, err := tx.MicrosoftConnection(ctx, tenantID, connectionID); err != nil {
			return err
		}
		var err error
		us, err = tx.ListMicrosoftUsers(ctx, tenantID, connectionID)
		return err
	})
	return us, err
}

// Pages of the Microsoft users list.
const (
	DefaultMicrosoftUsersPage = 100
	MaxMicrosoftUsersPage     = 500
)

// MicrosoftUsersPage returns one page of a connection's imported users, by
// UPN: at most limit (0 means DefaultMicrosoftUsersPage) after the cursor
// after ("" for the first page), and the cursor of the next page ("" when
// this is the last).
func (e *Engine) MicrosoftUsersPage(ctx context.Context, tenantID, connectionID, after string, limit int) ([]MicrosoftUser, string, error) {
	if limit == 0 {
		limit = DefaultMicrosoftUsersPage
	}
	if limit < 1 || limit > MaxMicrosoftUsersPage {
		return nil, "", Errorf(KindInvalid, "limit must be 1 to %d, not %d", MaxMicrosoftUsersPage, limit)
	}
	var upn, object string
	if after != "" {
		raw, err := base64.RawURLEncoding.DecodeString(after)
		parts := strings.SplitN(string(raw), "\n", 2)
		if err != nil || len(parts) != 2 {
			return nil, "", Errorf(KindInvalid, "the page cursor is not one this list gave")
		}
		upn, object = parts[0], parts[1]
	}
	var us []MicrosoftUser
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		if _, err := tx.MicrosoftConnection(ctx, tenantID, connectionID); err != nil {
			return err
		}
		var err error
		us, err = tx.ListMicrosoftUsersPage(ctx, tenantID, connectionID, upn, object, limit+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(us) > limit {
		us = us[:limit]
		last := us[len(us)-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.UPN + "\n" + last.ObjectID))
	}
	return us, next, nil
}

// MicrosoftImport counts what an import found.
type MicrosoftImport struct {
	Users         int
	Authenticator int // with Microsoft Authenticator registered
	Synced        int // synced from on-premises AD; the rest are cloud-only
	Matched       int // matched to one contact
	Conflicts     int // matching several contacts: left unmatched
	Disabled      int // accounts switched off: kept, never pushed to
}

// ImportMicrosoftUsers reads the tenant's users and their registered
// methods through Graph, matches each to the client's contacts by e-mail
// (mail, then UPN; one contact or none, several is a conflict left for an
// admin; an admin's manual match is kept) and replaces the connection's
// user list with them, audited, in one transaction.
func (e *Engine) ImportMicrosoftUsers(ctx context.Context, tenantID, actor, connectionID string) (MicrosoftImport, error) {
	if e.cfg.Microsoft == nil {
		return MicrosoftImport{}, Errorf(KindUnavailable, "Microsoft 365 is not available on this server")
	}
	var (
		conn MicrosoftConnection
		prev []MicrosoftUser
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if conn, err = tx.MicrosoftConnection(ctx, tenantID, connectionID); err != nil {
			return err
		}
		prev, err = tx.ListMicrosoftUsers(ctx, tenantID, connectionID)
		return err
	})
	if err != nil {
		return MicrosoftImport{}, err
	}
	client, err := e.microsoftClient(conn)
	if err != nil {
		return MicrosoftImport{}, err
	}
	ictx, cancel := context.WithTimeout(ctx, microsoftImportTimeout)
	defer cancel()
	dir, err := client.Users(ictx)
	if err != nil {
		return MicrosoftImport{}, microsoftSetupError(err, false)
	}
	methods, err := e.readMethods(ictx, client, dir)
	if err != nil {
		return MicrosoftImport{}, err
	}
	manual := map[string]string{}
	for _, u := range prev {
		if u.MatchedBy == "manual" {
			manual[u.ObjectID] = u.ContactID
		}
	}
	var rep MicrosoftImport
	users := make([]MicrosoftUser, 0, len(dir))
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		rep, users = MicrosoftImport{}, users[:0]
		now := e.Now()
		for i, d := range dir {
			u := MicrosoftUser{TenantID: tenantID, ConnectionID: conn.ID, ObjectID: d.ObjectID, UPN: d.UPN, Mail: d.Mail,
				Mobile: d.Mobile, DisplayName: d.DisplayName, Source: d.Source, Enabled: d.Enabled, ImportedAt: now}
			u.Authenticator, u.Methods = summarizeMethods(methods[i])
			if id, ok := manual[d.ObjectID]; ok {
				u.ContactID, u.MatchedBy = id, "manual"
			} else if err := matchMicrosoftUser(ctx, tx, tenantID, conn.ClientID, &u); err != nil {
				return err
			}
			rep.Users++
			switch {
			case u.ContactID != "":
				rep.Matched++
			case u.MatchedBy == matchedSeveral:
				rep.Conflicts++
			}
			if u.Authenticator {
				rep.Authenticator++
			}
			if u.Source == MicrosoftSynced {
				rep.Synced++
			}
			if !u.Enabled {
				rep.Disabled++
			}
			users = append(users, u)
		}
		if err := tx.ReplaceMicrosoftUsers(ctx, tenantID, conn.ID, users); err != nil {
			return err
		}
		cur, err := tx.MicrosoftConnection(ctx, tenantID, conn.ID)
		if err != nil {
			return err
		}
		cur.ImportedAt, cur.UpdatedAt = now, now
		if err := tx.PutMicrosoftConnection(ctx, &cur); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftImported, conn.ID, map[string]string{
			"users": fmt.Sprint(rep.Users), "authenticator": fmt.Sprint(rep.Authenticator), "matched": fmt.Sprint(rep.Matched),
			"conflicts": fmt.Sprint(rep.Conflicts), "synced": fmt.Sprint(rep.Synced), "disabled": fmt.Sprint(rep.Disabled)})
	})
	if err != nil {
		return MicrosoftImport{}, err
	}
	return rep, nil
}

// readMethods reads every enabled user's methods, a few at a time. A user
// deleted meanwhile (404) has none; anything else stops the import.
func (e *Engine) readMethods(ctx context.Context, c MicrosoftClient, dir []MicrosoftDirectoryUser) ([][]string, error) {
	out := make([][]string, len(dir))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range microsoftImportWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ms, err := c.AuthMethods(ctx, dir[i].ObjectID)
				var me *MicrosoftError
				if errors.As(err, &me) && me.HTTPStatus == 404 {
					err = nil
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					continue
				}
				out[i] = ms
			}
		}()
	}
feed:
	for i, d := range dir {
		if !d.Enabled {
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, microsoftMethodsError(firstErr)
	}
	return out, ctx.Err()
}

func microsoftMethodsError(err error) error {
	var me *MicrosoftError
	if errors.As(err, &me) && me.HTTPStatus == 403 {
		return Errorf(KindInvalid, "the app may not read users' authentication methods: grant UserAuthenticationMethod.Read.All and give admin consent")
	}
	return microsoftSetupError(err, false)
}

// summarizeMethods says whether Microsoft Authenticator is among Graph's
// method types and lists their short names ("microsoftAuthenticator, sms").
func summarizeMethods(types []string) (bool, string) {
	app := false
	names := make([]string, 0, len(types))
	for _, t := range types {
		if t == MicrosoftAuthenticatorType {
			app = true
		}
		n := strings.TrimSuffix(strings.TrimPrefix(t, "#microsoft.graph."), "AuthenticationMethod")
		if n != "" && n != "password" {
			names = append(names, ClipRunes(n, 40, Ellipsis))
		}
	}
	sort.Strings(names)
	return app, strings.Join(names, ", ")
}

// matchedSeveral is MatchedBy for a user whose e-mail is on several
// contacts: not matched, shown as a conflict.
const matchedSeveral = "several contacts"

// matchMicrosoftUser finds the one contact of the client whose e-mail is
// the user's mail, else their UPN (the directory matcher's first rule).
func matchMicrosoftUser(ctx context.Context, tx Tx, tenantID, clientID string, u *MicrosoftUser) error {
	for _, key := range []struct{ addr, by string }{{u.Mail, "mail"}, {u.UPN, "upn"}} {
		addr, err := NormalizeEmail(key.addr)
		if err != nil || addr == "" {
			continue
		}
		cs, err := tx.SearchContacts(ctx, tenantID, ContactQuery{ClientID: clientID, Email: addr, Limit: 2})
		if err != nil {
			return err
		}
		switch len(cs) {
		case 0:
			continue
		case 1:
			u.ContactID, u.MatchedBy = cs[0].ID, key.by
		default:
			u.MatchedBy = matchedSeveral
		}
		return nil
	}
	return nil
}

func (e *Engine) openMicrosoft(c MicrosoftConnection) (MicrosoftConfig, error) {
	plain, err := e.cfg.Sealer.Open(c.Sealed, msConnectionAAD(c.TenantID, c.ID))
	if err != nil {
		return MicrosoftConfig{}, Errorf(KindInternal, "Microsoft 365 connection %s: its secrets cannot be decrypted with the current master key", c.ID)
	}
	var cfg MicrosoftConfig
	if err := json.Unmarshal(plain, &cfg); err != nil {
		return MicrosoftConfig{}, fmt.Errorf("core: decode Microsoft 365 connection %s: %w", c.ID, err)
	}
	return cfg, nil
}

func (e *Engine) microsoftClient(c MicrosoftConnection) (MicrosoftClient, error) {
	cfg, err := e.openMicrosoft(c)
	if err != nil {
		return nil, err
	}
	return e.cfg.Microsoft(cfg)
}

// MatchMicrosoftUser sets (an admin's edit) the contact an imported user
// is; contactID "" says they are none. Imports keep a manual match. The
// contact must be of the connection's client.
func (e *Engine) MatchMicrosoftUser(ctx context.Context, tenantID, actor, connectionID, objectID, contactID string) (MicrosoftUser, error) {
	var u MicrosoftUser
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		conn, err := tx.MicrosoftConnection(ctx, tenantID, connectionID)
		if err != nil {
			return err
		}
		users, err := tx.ListMicrosoftUsers(ctx, tenantID, conn.ID)
		if err != nil {
			return err
		}
		found, taken := false, ""
		for _, x := range users {
			switch {
			case x.ObjectID == objectID:
				u, found = x, true
			case contactID != "" && x.ContactID == contactID && x.MatchedBy == "manual":
				taken = x.UPN
			}
		}
		switch {
		case !found:
			return Errorf(KindNotFound, "no such Microsoft 365 user in this connection; import the users again")
		case taken != "":
			return Errorf(KindConflict, "this contact is already matched by hand to %s", taken)
		}
		if contactID != "" {
			c, err := tx.Contact(ctx, tenantID, contactID)
			if err != nil {
				return err
			}
			if c.ClientID != conn.ClientID {
				return Errorf(KindInvalid, "%s is a contact of another client", c.Name())
			}
		}
		u.ContactID, u.MatchedBy = contactID, "manual"
		if err := tx.PutMicrosoftUser(ctx, &u); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftUserMatched, conn.ID,
			map[string]string{"upn": u.UPN, "contact": contactID})
	})
	return u, err
}
