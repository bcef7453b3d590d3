package core

import (
	"context"
	"fmt"
	"time"
)

// Password-expiry and lock-out notices (issue 17.5): users with self-serve
// on and status Registration Complete or Accessed Self-Serve hear by e-mail
// and SMS (whichever are known: the directory's, else the bound contact's;
// no SMS to a number that opted out, the first text to a number in a year
// saying how to opt out, as every text does)
// from 10 days before their password expires, daily, on the expiry day, and
// when their account is locked out. Days are the tenant's (its time zone's
// calendar, Tenant.Location). A user gets at most one notice a day —
// lock-out before expiry today before expiring — claimed in the store in
// the transaction that queues it, so restarts and several nodes send each
// once.

// NoticeKind is what a notice is about.
type NoticeKind string

// Notice kinds, in the order one is chosen when several apply on a day.
const (
	NoticeLocked       NoticeKind = "locked"
	NoticeExpiresToday NoticeKind = "expires_today"
	NoticeExpiring     NoticeKind = "expiring"
)

// noticeDays is how many days before expiry the notices start.
const noticeDays = 10

// NoticeTx is the part of a transaction that records notices sent.
type NoticeTx interface {
	// ClaimNotice records that (tenant, client, GUID) gets its notice of
	// day (YYYY-MM-DD, in the tenant's time zone); false when it already
	// has one for that day.
	ClaimNotice(ctx context.Context, tenantID, clientID, guid, day string, kind NoticeKind, at time.Time) (bool, error)
	// ForgetNotices drops a tenant's records of days before day.
	ForgetNotices(ctx context.Context, tenantID, day string) error
	// SMSTextedSince reports whether the tenant texted phone at or after
	// since: a verification's text or a notice's (NoteSMSTexted).
	SMSTextedSince(ctx context.Context, tenantID, phone string, since time.Time) (bool, error)
	// NoteSMSTexted records that a notice was texted to phone at at.
	NoteSMSTexted(ctx context.Context, tenantID, phone string, at time.Time) error
}

// noticeFor says which notice, if any, u is due on the day of now in loc
// (the tenant's time zone), and how many days are left before the password
// expires, counted by loc's calendar: at 23:30 on the 9th a password that
// expires on the 12th has 3 days left, whatever the date is in UTC.
func noticeFor(u DirectoryUser, now time.Time, loc *time.Location) (NoticeKind, int) {
	if u.Locked {
		return NoticeLocked, 0
	}
	if u.PasswordNeverExpires || u.PasswordExpiresAt.IsZero() {
		return "", 0
	}
	left := int(localDay(u.PasswordExpiresAt, loc).Sub(localDay(now, loc)).Hours() / 24)
	switch {
	case left == 0:
		return NoticeExpiresToday, 0
	case left > 0 && left <= noticeDays:
		return NoticeExpiring, left
	}
	return "", 0
}

// localDay is the calendar date of t in loc, as midnight UTC of that date:
// two of them are a whole number of days apart, also across a change to
// or from daylight saving time (local midnights can be 23 or 25 hours
// apart).
func localDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Message names of the notices, one per kind and channel. A tenant may
// word each its own way (Branding.Messages, checked by
// assets.CheckMessageTemplate); the renderer falls back to the built-in
// wording when a tenant's cannot be rendered.
const (
	MessageNoticeExpiringEmail = "notice_expiring_email"
	MessageNoticeExpiringSMS   = "notice_expiring_sms"
	MessageNoticeTodayEmail    = "notice_expires_today_email"
	MessageNoticeTodaySMS      = "notice_expires_today_sms"
	MessageNoticeLockedEmail   = "notice_locked_email"
	MessageNoticeLockedSMS     = "notice_locked_sms"
)

// NoticeMessage returns the message name of a notice of kind by channel
// (OutboxEmail or OutboxSMS).
func NoticeMessage(kind NoticeKind, channel OutboxKind) string {
	ch := "email"
	if channel == OutboxSMS {
		ch = "sms"
	}
	return "notice_" + string(kind) + "_" + ch
}

// noticeData is what a notice's template is rendered with.
func noticeData(t Tenant, u DirectoryUser, left int, msp string) MessageData {
	d := MessageData{TenantName: msp, ContactName: MessageName(u.GivenName), Account: u.SAMAccountName,
		DaysLeft: left, Branding: t.Branding}
	if !u.PasswordExpiresAt.IsZero() {
		d.ExpiresOn = FormatDate(u.PasswordExpiresAt, t.Location())
	}
	return d
}

// SendDirectoryNotices queues the notices due today for every tenant with
// self-serve on and returns how many users were notified. It is safe to
// run on every node, as often as wanted: each user's notice of a day is
// claimed once, in the transaction that queues its messages.
func (e *Engine) SendDirectoryNotices(ctx context.Context) (int, error) {
	var tenants []Tenant
	if err := e.cfg.Store.View(ctx, func(tx Tx) (err error) {
		tenants, err = tx.ListTenants(ctx)
		return err
	}); err != nil {
		return 0, err
	}
	sent := 0
	for _, t := range tenants {
		n, err := e.sendTenantNotices(ctx, t)
		sent += n
		if err != nil {
			return sent, err
		}
	}
	if sent > 0 {
		e.Wake()
	}
	return sent, nil
}

func (e *Engine) sendTenantNotices(ctx context.Context, t Tenant) (int, error) {
	var clients []Client
	var set SelfServeSettings
	if err := e.cfg.Store.View(ctx, func(tx Tx) (err error) {
		if set, err = tx.SelfServeSettings(ctx, t.ID); err != nil || !set.Enabled {
			return err
		}
		clients, err = tx.ListClients(ctx, t.ID)
		return err
	}); err != nil || !set.Enabled {
		return 0, err
	}
	sent := 0
	for _, c := range clients {
		var n int
		err := e.cfg.Store.Update(ctx, func(tx Tx) (err error) {
			n, err = e.sendClientNotices(ctx, tx, t, c.ID)
			return err
		})
		if err != nil {
			return sent, err
		}
		sent += n
	}
	now := e.Now()
	return sent, e.cfg.Store.Update(ctx, func(tx Tx) error {
		return tx.ForgetNotices(ctx, t.ID, localDay(now, t.Location()).AddDate(0, 0, -31).Format(time.DateOnly))
	})
}

// sendClientNotices queues, in tx, today's notices for one client's
// self-service users, returning how many users were sent one.
func (e *Engine) sendClientNotices(ctx context.Context, tx Tx, t Tenant, clientID string) (int, error) {
	own, err := noticeOwners(ctx, tx, t.ID, clientID)
	if err != nil || len(own) == 0 {
		return 0, err
	}
	users, err := tx.DirectoryUsers(ctx, t.ID, clientID)
	if err != nil {
		return 0, err
	}
	boundTo, err := acceptedMatches(ctx, tx, t.ID, clientID)
	if err != nil {
		return 0, err
	}
	now := e.Now()
	loc := t.Location()
	run := noticeRun{t: t, clientID: clientID, now: now, loc: loc, day: localDay(now, loc).Format(time.DateOnly), msp: t.DisplayName()}
	sent := 0
	for _, u := range users {
		if _, ok := own[u.GUID]; !ok {
			continue
		}
		ok, err := e.sendUserNotice(ctx, tx, run, u, boundTo[u.GUID])
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// noticeOwners returns, by GUID, the client's self-service users who may
// get notices: enabled and registered (or in). None means nothing to send,
// and the directory is not read.
func noticeOwners(ctx context.Context, tx Tx, tenantID, clientID string) (map[string]SelfServeUser, error) {
	owns, err := tx.SelfServeUsers(ctx, tenantID, clientID)
	if err != nil || len(owns) == 0 {
		return nil, err
	}
	own := make(map[string]SelfServeUser, len(owns))
	for _, o := range owns {
		if o.Enabled && (o.Status == SelfServeRegistered || o.Status == SelfServeAccessed) {
			own[o.GUID] = o
		}
	}
	return own, nil
}

// acceptedMatches returns the contact each directory user's accepted match
// binds them to, by GUID: where a notice may find an address the
// directory lacks.
func acceptedMatches(ctx context.Context, tx Tx, tenantID, clientID string) (map[string]string, error) {
	decisions, err := tx.MatchDecisions(ctx, tenantID, clientID)
	if err != nil {
		return nil, err
	}
	boundTo := map[string]string{}
	for _, d := range decisions {
		if d.State == MatchAccepted {
			boundTo[d.GUID] = d.ContactID
		}
	}
	return boundTo, nil
}

// noticeRun is what every notice of one client's run shares: the tenant,
// the time and the local day notices are claimed for.
type noticeRun struct {
	t        Tenant
	clientID string
	now      time.Time
	loc      *time.Location
	day      string
	msp      string
}

// sendUserNotice queues the notice user u is due today, if any, by e-mail
// and SMS, claimed once a day and audited; false when none was sent (none
// due, no address, or already claimed). contactID is u's matched contact.
func (e *Engine) sendUserNotice(ctx context.Context, tx Tx, run noticeRun, u DirectoryUser, contactID string) (bool, error) {
	t := run.t
	kind, left := noticeFor(u, run.now, run.loc)
	if kind == "" {
		return false, nil
	}
	email, mobile, err := noticeAddresses(ctx, tx, t.ID, u, contactID)
	if err != nil {
		return false, err
	}
	// No SMS to a number that opted out (or outside the tenant's SMS
	// countries): the outbox would refuse it at delivery anyway, so it is
	// not queued, day after day, to be refused.
	var smsRefused *SendRefusal
	if mobile != "" {
		if smsRefused, err = e.checkPhoneSend(ctx, tx, t.ID, OutboxSMS, mobile, nil); err != nil {
			return false, err
		}
		if smsRefused != nil {
			mobile = ""
		}
	}
	if email == "" && mobile == "" {
		return false, nil
	}
	claimed, err := tx.ClaimNotice(ctx, t.ID, run.clientID, u.GUID, run.day, kind, run.now)
	if err != nil || !claimed {
		return false, err
	}
	d := noticeData(t, u, left, run.msp)
	var channels []string
	if email != "" {
		if err := e.queueNoticeEmail(ctx, tx, run, kind, d, email); err != nil {
			return false, err
		}
		channels = append(channels, "email")
	}
	if mobile != "" {
		if err := e.queueNoticeSMS(ctx, tx, run, kind, d, mobile); err != nil {
			return false, err
		}
		channels = append(channels, "sms")
	}
	detail := map[string]string{
		"kind": string(kind), "days_left": fmt.Sprint(left), "day": run.day, "guid": u.GUID, "client": run.clientID,
		"channels": fmt.Sprint(channels),
	}
	if smsRefused != nil {
		detail["sms_refused"] = smsRefused.Action
	}
	return true, e.audit(ctx, tx, t.ID, "system", AuditDirectoryNotice, u.SID, detail)
}

// noticeAddresses returns u's e-mail address and mobile number from the
// directory, each completed from u's matched contact where the directory
// has none.
func noticeAddresses(ctx context.Context, tx Tx, tenantID string, u DirectoryUser, contactID string) (email, mobile string, err error) {
	email, mobile = u.Mail, u.MobileE164
	if contactID == "" || email != "" && mobile != "" {
		return email, mobile, nil
	}
	c, err := tx.Contact(ctx, tenantID, contactID)
	if err != nil && !isNotFound(err) {
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

// queueNoticeEmail renders the notice kind for e-mail and queues it to
// email, from the MSP's name.
func (e *Engine) queueNoticeEmail(ctx context.Context, tx Tx, run noticeRun, kind NoticeKind, d MessageData, email string) error {
	r, err := e.cfg.Renderer.Render(NoticeMessage(kind, OutboxEmail), d)
	if err != nil {
		return fmt.Errorf("core: render %s notice: %w", kind, err)
	}
	return e.queueNotice(ctx, tx, run.t.ID, Outbound{Kind: OutboxEmail, To: email, FromName: run.msp, Subject: r.Subject, Text: r.Text, HTML: r.HTML}, run.now)
}

// queueNoticeSMS renders the notice kind for SMS and queues it to mobile.
// As every text, it names the sender (a tenant's wording may leave it
// out), and the first text to the number in a year says how to opt out.
func (e *Engine) queueNoticeSMS(ctx context.Context, tx Tx, run noticeRun, kind NoticeKind, d MessageData, mobile string) error {
	r, err := e.cfg.Renderer.Render(NoticeMessage(kind, OutboxSMS), d)
	if err != nil {
		return fmt.Errorf("core: render %s notice: %w", kind, err)
	}
	texted, err := tx.SMSTextedSince(ctx, run.t.ID, mobile, run.now.AddDate(-1, 0, 0))
	if err != nil {
		return err
	}
	text := CarrierWording(r.Text, run.msp, !texted)
	if err := e.queueNotice(ctx, tx, run.t.ID, Outbound{Kind: OutboxSMS, To: mobile, Text: text}, run.now); err != nil {
		return err
	}
	return tx.NoteSMSTexted(ctx, run.t.ID, mobile, run.now)
}

// queueNotice writes a notice's message to the outbox for the worker.
func (e *Engine) queueNotice(ctx context.Context, tx Tx, tenantID string, msg Outbound, now time.Time) error {
	item := OutboxItem{ID: NewID("obx"), TenantID: tenantID, Kind: msg.Kind, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.DevDelivery}
	ready, err := e.channelReady(ctx, tx, tenantID, msg.Kind)
	if err != nil {
		return err
	}
	item.Dev = item.Dev || !ready
	if err := e.sealAndEnqueue(ctx, tx, &item, msg, 0); err != nil {
		return fmt.Errorf("core: queue notice: %w", err)
	}
	return nil
}

// RunDirectoryNotices sends the day's notices now and then every interval
// until ctx ends; errors are logged and tried again at the next round.
func (e *Engine) RunDirectoryNotices(ctx context.Context, every time.Duration) {
	for {
		if n, err := e.SendDirectoryNotices(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Error("directory notices failed; trying again later", "err", err)
		} else if n > 0 {
			e.log.Info("directory notices queued", "users", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
