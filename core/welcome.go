package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"time"
)

// The self-serve welcome e-mail (issue 17.3): it asks a user whose
// self-serve is on to confirm the mobile number on record, from a link
// that works once and for two weeks. Confirming makes the user's status
// Registration Complete; "not my number" is audited and changes nothing
// else, so the MSP can correct it.

// Welcome is an outstanding welcome e-mail of a directory user.
type Welcome struct {
	TenantID  string
	ClientID  string
	GUID      string
	TokenHash []byte
	Mobile    string // the number the user is asked to confirm (E.164)
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// WelcomeTx is the part of a transaction that holds welcome e-mails.
type WelcomeTx interface {
	// PutWelcome creates or replaces the user's outstanding welcome.
	PutWelcome(ctx context.Context, w *Welcome) error
	// WelcomeByToken finds a welcome of the tenant by its token's hash.
	WelcomeByToken(ctx context.Context, tenantID string, tokenHash []byte) (Welcome, error)
	// Welcomes returns the welcomes of a client's users, used or not.
	Welcomes(ctx context.Context, tenantID, clientID string) ([]Welcome, error)
	// UseWelcome marks it used; ErrNotFound when it was used already.
	UseWelcome(ctx context.Context, tenantID string, tokenHash []byte, at time.Time) error
}

// welcomeTTL is how long a welcome link works.
const welcomeTTL = 14 * 24 * time.Hour

func welcomeHash(token string) []byte {
	h := sha256.Sum256([]byte("welcome/" + token))
	return h[:]
}

// reachOf returns the e-mail and mobile a directory user is reached
// at: the directory's, else those of the contact it is bound to.
func reachOf(ctx context.Context, tx Tx, u DirectoryUser, boundContactID string) (email, mobile string, err error) {
	email, mobile = u.Mail, u.MobileE164
	if boundContactID == "" || (email != "" && mobile != "") {
		return email, mobile, nil
	}
	c, err := tx.Contact(ctx, u.TenantID, boundContactID)
	if isNotFound(err) {
		return email, mobile, nil
	}
	if err != nil {
		return "", "", err
	}
	for _, d := range c.Destinations {
		switch {
		case d.Kind == DestEmail && email == "":
			email = d.Value
		case d.Kind == DestPhone && mobile == "":
			mobile = d.Value
		}
	}
	return email, mobile, nil
}

// welcomeBatch is what a welcome send needs of a client, read once in
// its transaction.
type welcomeBatch struct {
	tenant Tenant
	users  map[string]DirectoryUser
	on     map[string]SelfServeUser // users with a switch
	bound  map[string]string        // GUID → contact of an accepted match
	open   map[string]bool          // GUIDs with an unused, unexpired welcome
}

func (e *Engine) loadWelcomeBatch(ctx context.Context, tx Tx, tenantID, clientID string) (welcomeBatch, error) {
	var b welcomeBatch
	t, err := tx.Tenant(ctx, tenantID)
	if err != nil {
		return b, err
	}
	set, err := tx.SelfServeSettings(ctx, tenantID)
	if err != nil {
		return b, err
	}
	if !set.Enabled {
		return b, Errorf(KindInvalid, "turn self-serve on for your organisation before sending welcome e-mails")
	}
	b.tenant = t
	if _, err := tx.Client(ctx, tenantID, clientID); err != nil {
		return b, err
	}
	users, err := tx.DirectoryUsers(ctx, tenantID, clientID)
	if err != nil {
		return b, err
	}
	b.users = make(map[string]DirectoryUser, len(users))
	for _, u := range users {
		b.users[u.GUID] = u
	}
	owns, err := tx.SelfServeUsers(ctx, tenantID, clientID)
	if err != nil {
		return b, err
	}
	b.on = make(map[string]SelfServeUser, len(owns))
	for _, o := range owns {
		b.on[o.GUID] = o
	}
	decisions, err := tx.MatchDecisions(ctx, tenantID, clientID)
	if err != nil {
		return b, err
	}
	b.bound = map[string]string{}
	for _, d := range decisions {
		if d.State == MatchAccepted {
			b.bound[d.GUID] = d.ContactID
		}
	}
	ws, err := tx.Welcomes(ctx, tenantID, clientID)
	if err != nil {
		return b, err
	}
	now := e.Now()
	b.open = map[string]bool{}
	for _, w := range ws {
		if w.UsedAt.IsZero() && now.Before(w.ExpiresAt) {
			b.open[w.GUID] = true
		}
	}
	return b, nil
}

// sendWelcome queues one user's welcome e-mail, replacing an outstanding
// one, and audits it, in tx.
func (e *Engine) sendWelcome(ctx context.Context, tx Tx, b welcomeBatch, actor, clientID string, u DirectoryUser, email, mobile string) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := e.Now()
	t := b.tenant
	w := Welcome{TenantID: t.ID, ClientID: clientID, GUID: u.GUID, TokenHash: welcomeHash(token), Mobile: mobile,
		CreatedAt: now, ExpiresAt: now.Add(welcomeTTL)}
	if err := tx.PutWelcome(ctx, &w); err != nil {
		return err
	}
	msp := t.DisplayName()
	link := e.cfg.PublicURL + "/w/" + t.Slug + "/" + token
	text := fmt.Sprintf("Hello %s,\n\n%s can now let you reset your own password and unlock your account %s.\n"+
		"To keep this safe, we send a code to your mobile phone first. Please confirm that %s is your mobile number:\n\n%s\n\n"+
		"The link works once, for 14 days. If the number is not yours, say so on that page and %s will correct it.\n\n— %s",
		u.Name(), msp, u.SAMAccountName, MaskDestination(DestPhone, mobile), link, msp, msp)
	if err := e.queueNotice(ctx, tx, t.ID, Outbound{Kind: OutboxEmail, To: email, FromName: msp,
		Subject: "Confirm your mobile number for password self-service", Text: text}, now); err != nil {
		return err
	}
	b.open[u.GUID] = true
	return e.audit(ctx, tx, t.ID, actor, AuditSelfServeWelcomeSent, u.SID, map[string]string{
		"guid": u.GUID, "client": clientID, "account": u.SAMAccountName,
	})
}

// SendWelcome e-mails the chosen users of a client a link to confirm their
// mobile number. Each must have self-serve on and an e-mail and a mobile;
// otherwise nothing is sent to anyone. A new welcome replaces the user's
// outstanding one.
func (e *Engine) SendWelcome(ctx context.Context, tenantID, actor, clientID string, guids []string) (int, error) {
	if len(guids) == 0 {
		return 0, Errorf(KindInvalid, "choose at least one user")
	}
	if len(guids) > maxSelfServeBatch {
		return 0, Errorf(KindInvalid, "at most %d users at once", maxSelfServeBatch)
	}
	sent := 0
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		sent = 0
		b, err := e.loadWelcomeBatch(ctx, tx, tenantID, clientID)
		if err != nil {
			return err
		}
		for _, g := range guids {
			u, ok := b.users[g]
			if !ok {
				return Errorf(KindNotFound, "directory user %s is not on record for this client", g)
			}
			if !b.on[g].Enabled {
				return Errorf(KindInvalid, "%s does not have self-serve on", u.Name())
			}
			email, mobile, err := reachOf(ctx, tx, u, b.bound[g])
			if err != nil {
				return err
			}
			if email == "" || mobile == "" {
				return Errorf(KindInvalid, "%s needs an e-mail address and a mobile number for self-serve", u.Name())
			}
			if err := e.sendWelcome(ctx, tx, b, actor, clientID, u, email, mobile); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	if err == nil && sent > 0 {
		e.Wake()
	}
	return sent, err
}

// MaxWelcomeRound bounds the welcome e-mails one SendPendingWelcomes
// call queues, so the console can show its progress round by round.
const MaxWelcomeRound = 100

// SendPendingWelcomes e-mails the welcome to up to limit (at most
// MaxWelcomeRound) users of a client who are waiting for one: self-serve
// on, an e-mail and a mobile known, not registered yet, and no unused
// link outstanding. Users without an e-mail or mobile are skipped, not
// refused. It returns how many it sent and how many are still waiting, so
// calling it again until none are left reaches everyone exactly once.
func (e *Engine) SendPendingWelcomes(ctx context.Context, tenantID, actor, clientID string, limit int) (sent, waiting int, err error) {
	if limit <= 0 || limit > MaxWelcomeRound {
		limit = MaxWelcomeRound
	}
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		sent, waiting = 0, 0
		b, err := e.loadWelcomeBatch(ctx, tx, tenantID, clientID)
		if err != nil {
			return err
		}
		guids := make([]string, 0, len(b.on))
		for g, o := range b.on {
			if o.Enabled && o.Status == SelfServeNotRegistered && !b.open[g] {
				if _, ok := b.users[g]; ok {
					guids = append(guids, g)
				}
			}
		}
		slices.Sort(guids)
		for _, g := range guids {
			u := b.users[g]
			email, mobile, err := reachOf(ctx, tx, u, b.bound[g])
			if err != nil {
				return err
			}
			if email == "" || mobile == "" {
				continue
			}
			if sent == limit {
				waiting++
				continue
			}
			if err := e.sendWelcome(ctx, tx, b, actor, clientID, u, email, mobile); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	if err == nil && sent > 0 {
		e.Wake()
	}
	return sent, waiting, err
}

// WelcomePage is what the welcome link's page shows.
type WelcomePage struct {
	Tenant       Tenant
	Account      string
	Name         string
	MaskedMobile string
	Status       SelfServeStatus
	Used         bool // answered already
}

// welcomeOf finds an unexpired welcome and its user; ErrNotFound for an
// unknown or expired link alike.
func (e *Engine) welcomeOf(ctx context.Context, tx Tx, slug, token string) (Tenant, Welcome, DirectoryUser, error) {
	t, err := tx.TenantBySlug(ctx, slug)
	if err != nil {
		return Tenant{}, Welcome{}, DirectoryUser{}, Errorf(KindNotFound, "this link is not valid")
	}
	w, err := tx.WelcomeByToken(ctx, t.ID, welcomeHash(token))
	if err != nil || !e.Now().Before(w.ExpiresAt) {
		return Tenant{}, Welcome{}, DirectoryUser{}, Errorf(KindNotFound, "this link is not valid")
	}
	users, err := tx.DirectoryUsers(ctx, t.ID, w.ClientID)
	if err != nil {
		return Tenant{}, Welcome{}, DirectoryUser{}, err
	}
	for _, u := range users {
		if u.GUID == w.GUID {
			return t, w, u, nil
		}
	}
	return Tenant{}, Welcome{}, DirectoryUser{}, Errorf(KindNotFound, "this link is not valid")
}

// WelcomeView returns the welcome link's page; it changes nothing.
func (e *Engine) WelcomeView(ctx context.Context, slug, token string) (WelcomePage, error) {
	var p WelcomePage
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		t, w, u, err := e.welcomeOf(ctx, tx, slug, token)
		if err != nil {
			return err
		}
		owns, err := tx.SelfServeUsers(ctx, t.ID, w.ClientID)
		if err != nil {
			return err
		}
		for _, o := range owns {
			if o.GUID == u.GUID {
				p.Status = o.Status
			}
		}
		p.Tenant, p.Account, p.Name, p.MaskedMobile, p.Used = t, u.SAMAccountName, u.Name(), MaskDestination(DestPhone, w.Mobile), !w.UsedAt.IsZero()
		return nil
	})
	return p, err
}

// AnswerWelcome records the user's answer: the number is theirs (status
// Registration Complete) or not (audited for the MSP). A link answers once.
func (e *Engine) AnswerWelcome(ctx context.Context, slug, token string, mine bool) (WelcomePage, error) {
	var p WelcomePage
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		t, w, u, err := e.welcomeOf(ctx, tx, slug, token)
		if err != nil {
			return err
		}
		now := e.Now()
		if err := tx.UseWelcome(ctx, t.ID, w.TokenHash, now); err != nil {
			if isNotFound(err) {
				return Errorf(KindConflict, "this link has been answered already")
			}
			return err
		}
		action := AuditSelfServeMobileDisputed
		owns, err := tx.SelfServeUsers(ctx, t.ID, w.ClientID)
		if err != nil {
			return err
		}
		own := SelfServeUser{TenantID: t.ID, ClientID: w.ClientID, GUID: u.GUID}
		for _, o := range owns {
			if o.GUID == u.GUID {
				own = o
			}
		}
		if mine {
			action = AuditSelfServeRegistered
			if own.Status != SelfServeAccessed {
				own.Status = SelfServeRegistered
			}
			own.ChangedBy, own.ChangedAt = "enduser", now
			if err := tx.PutSelfServeUser(ctx, &own); err != nil {
				return err
			}
		}
		p = WelcomePage{Tenant: t, Account: u.SAMAccountName, Name: u.Name(), MaskedMobile: MaskDestination(DestPhone, w.Mobile),
			Status: own.Status, Used: true}
		return e.audit(ctx, tx, t.ID, "enduser", action, u.SID, map[string]string{"guid": u.GUID, "client": w.ClientID})
	})
	return p, err
}
