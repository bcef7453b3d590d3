package core

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// NotifyEvent names something that happened which notification groups can
// be told about.
type NotifyEvent string

// Notification events.
const (
	// NotifyTechVerify: an end user asked to verify a technician (#verify).
	NotifyTechVerify NotifyEvent = "tech_verify"
	// NotifyNotMe: a user pressed "This is not me" on a workstation prompt,
	// or said in the tray's "Verify my technician" that a technician
	// working with them is not the person on the phone.
	NotifyNotMe NotifyEvent = "not_me"
	// NotifyVerificationFailed: a verification failed (wrong codes, a
	// declined link, a wrong number picked) where the policy asks for it
	// (Policy.NotifyOnFailure).
	NotifyVerificationFailed NotifyEvent = "verification_failed"
	// NotifyPushRefused: a user denied a Duo or Microsoft push, or
	// reported it as fraud (security.md §4).
	NotifyPushRefused NotifyEvent = "push_refused"
)

// NotifyEvents lists every event, in the order the console shows them.
var NotifyEvents = []NotifyEvent{NotifyTechVerify, NotifyNotMe, NotifyPushRefused, NotifyVerificationFailed}

// Label is the event in words.
func (ev NotifyEvent) Label() string {
	switch ev {
	case NotifyTechVerify:
		return "Technician verification requested"
	case NotifyNotMe:
		return "\"This is not me\" on a workstation prompt, or \"not the person\" in Verify my technician"
	case NotifyPushRefused:
		return "A push denied or reported as fraud"
	case NotifyVerificationFailed:
		return "Verification failed (where the policy asks)"
	}
	return string(ev)
}

// NotifyGroup is a named set of people to tell about events, each reached
// when their own on-call schedule says so.
type NotifyGroup struct {
	ID        string
	TenantID  string
	Name      string
	Events    []NotifyEvent // what the group is told about
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Wants reports whether the group is told about ev.
func (g NotifyGroup) Wants(ev NotifyEvent) bool { return slices.Contains(g.Events, ev) }

// NotifyUser is one member of a notification group: a copy of a person's
// name and ways of being reached, taken by hand, from a technician or from
// a PSA member, and independent of later changes to what it was copied
// from (Source says what that was).
type NotifyUser struct {
	ID       string
	TenantID string
	GroupID  string
	Name     string
	Email    string // "" for none
	SMS      string // E.164, "" for none
	Voice    string // E.164, "" for none
	// ByEmail, BySMS and ByVoice say which ways are used; a way without
	// an address is never used.
	ByEmail, BySMS, ByVoice bool
	// Source is where the copy came from: "manual", "technician:<id>" or
	// "psa:<integration id>:<member ref>".
	Source    string
	Schedule  Schedule
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Ways returns the outbox kinds and addresses the user is reached on.
func (u NotifyUser) Ways() []Outbound {
	var out []Outbound
	if u.ByEmail && u.Email != "" {
		out = append(out, Outbound{Kind: OutboxEmail, To: u.Email})
	}
	if u.BySMS && u.SMS != "" {
		out = append(out, Outbound{Kind: OutboxSMS, To: u.SMS})
	}
	if u.ByVoice && u.Voice != "" {
		out = append(out, Outbound{Kind: OutboxVoice, To: u.Voice})
	}
	return out
}

// NotifyTx is the part of a transaction that holds notification groups,
// their users and the tenant's on-call time zone.
type NotifyTx interface {
	// CreateNotifyGroup stores g; a second group of the same name is
	// ErrConflict. UpdateNotifyGroup writes name, events and update time.
	CreateNotifyGroup(ctx context.Context, g *NotifyGroup) error
	UpdateNotifyGroup(ctx context.Context, g *NotifyGroup) error
	NotifyGroup(ctx context.Context, tenantID, id string) (NotifyGroup, error)
	// ListNotifyGroups returns a tenant's groups by name.
	ListNotifyGroups(ctx context.Context, tenantID string) ([]NotifyGroup, error)
	// DeleteNotifyGroup removes a group and its users.
	DeleteNotifyGroup(ctx context.Context, tenantID, id string) error

	// CreateNotifyUser stores u in its group (a missing group is
	// ErrNotFound); UpdateNotifyUser writes everything but the group,
	// source and creation time.
	CreateNotifyUser(ctx context.Context, u *NotifyUser) error
	UpdateNotifyUser(ctx context.Context, u *NotifyUser) error
	NotifyUser(ctx context.Context, tenantID, id string) (NotifyUser, error)
	// ListNotifyUsers returns a group's users by name, or every group's
	// when groupID is "".
	ListNotifyUsers(ctx context.Context, tenantID, groupID string) ([]NotifyUser, error)
	DeleteNotifyUser(ctx context.Context, tenantID, id string) error

	// NotifyTimeZone returns the IANA zone on-call schedules are read in,
	// "" when none was chosen (UTC).
	NotifyTimeZone(ctx context.Context, tenantID string) (string, error)
	SetNotifyTimeZone(ctx context.Context, tenantID, zone string) error
}

// checkNotifyGroup normalises and validates a group's name and events.
func checkNotifyGroup(g *NotifyGroup) error {
	g.Name = strings.TrimSpace(g.Name)
	if g.Name == "" || len([]rune(g.Name)) > 100 {
		return Errorf(KindInvalid, "a group needs a name of at most 100 characters")
	}
	var evs []NotifyEvent
	for _, ev := range g.Events {
		if !slices.Contains(NotifyEvents, ev) {
			return Errorf(KindInvalid, "unknown event %q; the events are %v", ev, NotifyEvents)
		}
		if !slices.Contains(evs, ev) {
			evs = append(evs, ev)
		}
	}
	g.Events = evs
	return nil
}

// checkNotifyUser normalises and validates a user's name, addresses and
// schedule; region reads national phone numbers.
func checkNotifyUser(u *NotifyUser, region string) error {
	u.Name = strings.TrimSpace(u.Name)
	if u.Name == "" || len([]rune(u.Name)) > 100 {
		return Errorf(KindInvalid, "a notification user needs a name of at most 100 characters")
	}
	var err error
	if u.Email = strings.TrimSpace(u.Email); u.Email != "" {
		if u.Email, err = NormalizeEmail(u.Email); err != nil {
			return err
		}
	}
	for _, p := range []*string{&u.SMS, &u.Voice} {
		if *p = strings.TrimSpace(*p); *p != "" {
			if *p, err = NormalizePhone(*p, region); err != nil {
				return err
			}
		}
	}
	switch {
	case u.ByEmail && u.Email == "":
		return Errorf(KindInvalid, "e-mail is on but %s has no e-mail address", u.Name)
	case u.BySMS && u.SMS == "":
		return Errorf(KindInvalid, "SMS is on but %s has no mobile number", u.Name)
	case u.ByVoice && u.Voice == "":
		return Errorf(KindInvalid, "voice is on but %s has no phone number", u.Name)
	case len(u.Schedule) > 20:
		return Errorf(KindInvalid, "at most 20 schedule rules per user")
	}
	return u.Schedule.Validate()
}

// NotifyGroupView is a group with its users, as the console lists it.
type NotifyGroupView struct {
	NotifyGroup
	Users []NotifyUser
}

// NotifyGroups returns the tenant's groups with their users, and the time
// zone their schedules are read in.
func (e *Engine) NotifyGroups(ctx context.Context, tenantID string) ([]NotifyGroupView, string, error) {
	var (
		out  []NotifyGroupView
		zone string
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		out = nil
		groups, err := tx.ListNotifyGroups(ctx, tenantID)
		if err != nil {
			return err
		}
		users, err := tx.ListNotifyUsers(ctx, tenantID, "")
		if err != nil {
			return err
		}
		for _, g := range groups {
			v := NotifyGroupView{NotifyGroup: g, Users: []NotifyUser{}}
			for _, u := range users {
				if u.GroupID == g.ID {
					v.Users = append(v.Users, u)
				}
			}
			out = append(out, v)
		}
		zone, err = tx.NotifyTimeZone(ctx, tenantID)
		return err
	})
	return out, zone, err
}

// CreateNotifyGroup stores a new group of actor's tenant.
func (e *Engine) CreateNotifyGroup(ctx context.Context, actor Technician, g NotifyGroup) (NotifyGroup, error) {
	if err := checkNotifyGroup(&g); err != nil {
		return NotifyGroup{}, err
	}
	now := e.Now()
	g.ID, g.TenantID, g.CreatedAt, g.UpdatedAt = NewID("ngr"), actor.TenantID, now, now
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateNotifyGroup(ctx, &g); err != nil {
			if ErrorKind(err) == KindConflict {
				return Errorf(KindConflict, "there is already a group called %q", g.Name)
			}
			return err
		}
		return e.audit(ctx, tx, g.TenantID, techActor(actor.ID), AuditNotifyGroupCreated, g.ID,
			map[string]string{"name": g.Name, "events": joinEvents(g.Events)})
	})
	return g, err
}

// UpdateNotifyGroup renames a group or changes its events.
func (e *Engine) UpdateNotifyGroup(ctx context.Context, actor Technician, g NotifyGroup) (NotifyGroup, error) {
	if err := checkNotifyGroup(&g); err != nil {
		return NotifyGroup{}, err
	}
	var out NotifyGroup
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		cur, err := tx.NotifyGroup(ctx, actor.TenantID, g.ID)
		if err != nil {
			return err
		}
		cur.Name, cur.Events, cur.UpdatedAt = g.Name, g.Events, e.Now()
		if err := tx.UpdateNotifyGroup(ctx, &cur); err != nil {
			if ErrorKind(err) == KindConflict {
				return Errorf(KindConflict, "there is already a group called %q", g.Name)
			}
			return err
		}
		out = cur
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), AuditNotifyGroupUpdated, cur.ID,
			map[string]string{"name": cur.Name, "events": joinEvents(cur.Events)})
	})
	return out, err
}

// DeleteNotifyGroup removes a group and its users.
func (e *Engine) DeleteNotifyGroup(ctx context.Context, actor Technician, id string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		g, err := tx.NotifyGroup(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteNotifyGroup(ctx, actor.TenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), AuditNotifyGroupDeleted, id, map[string]string{"name": g.Name})
	})
}

// AddNotifyUser adds u to group u.GroupID. u.Source says where the copy
// came from ("" means "manual"); CloneTechnician and the console's PSA
// member copy fill it in.
func (e *Engine) AddNotifyUser(ctx context.Context, actor Technician, u NotifyUser) (NotifyUser, error) {
	if u.Source == "" {
		u.Source = "manual"
	}
	now := e.Now()
	u.ID, u.TenantID, u.CreatedAt, u.UpdatedAt = NewID("nus"), actor.TenantID, now, now
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		tn, err := tx.Tenant(ctx, actor.TenantID)
		if err != nil {
			return err
		}
		if err := checkNotifyUser(&u, tn.Region()); err != nil {
			return err
		}
		if _, err := tx.NotifyGroup(ctx, actor.TenantID, u.GroupID); err != nil {
			return err
		}
		if err := tx.CreateNotifyUser(ctx, &u); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), AuditNotifyUserAdded, u.ID,
			map[string]string{"group": u.GroupID, "name": u.Name, "source": u.Source})
	})
	return u, err
}

// CloneTechnician adds a copy of technician techID to a group: name and
// e-mail, reached by e-mail. Later changes to the technician do not change
// the copy, nor the copy the technician.
func (e *Engine) CloneTechnician(ctx context.Context, actor Technician, groupID, techID string) (NotifyUser, error) {
	var t Technician
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		t, err = tx.Technician(ctx, actor.TenantID, techID)
		return err
	})
	if err != nil {
		return NotifyUser{}, err
	}
	return e.AddNotifyUser(ctx, actor, NotifyUser{GroupID: groupID, Name: t.Name, Email: t.Email, ByEmail: t.Email != "",
		Source: "technician:" + t.ID})
}

// ClonePSAMember copies member m of integration integrationID, as the
// integration's PSA listed it (phone as the PSA holds it), into group
// groupID: its name and e-mail, e-mail on, and its phone for SMS and voice
// (off until an admin turns them on, since a PSA's number may be a desk
// line) when it reads as a number of the tenant's region. It is a copy:
// later changes in the PSA do not follow.
func (e *Engine) ClonePSAMember(ctx context.Context, actor Technician, groupID, integrationID string, m PSAMember, phone string) (NotifyUser, error) {
	if m.Ref == "" || integrationID == "" {
		return NotifyUser{}, Errorf(KindInvalid, "choose the PSA member to copy")
	}
	name := strings.TrimSpace(m.Name)
	if name == "" {
		name = strings.TrimSpace(m.Identifier)
	}
	u := NotifyUser{GroupID: groupID, Name: name, Source: "psa:" + integrationID + ":" + m.Ref}
	if addr, err := NormalizeEmail(strings.TrimSpace(m.Email)); err == nil && m.Email != "" {
		u.Email, u.ByEmail = addr, true
	}
	if phone = strings.TrimSpace(phone); phone != "" {
		region, err := view(ctx, e, func(tx Tx) (string, error) {
			tn, err := tx.Tenant(ctx, actor.TenantID)
			return tn.Region(), err
		})
		if err != nil {
			return NotifyUser{}, err
		}
		if n, err := NormalizePhone(phone, region); err == nil {
			u.SMS, u.Voice = n, n
		}
	}
	return e.AddNotifyUser(ctx, actor, u)
}

// UpdateNotifyUser changes a user's name, addresses, ways and schedule.
func (e *Engine) UpdateNotifyUser(ctx context.Context, actor Technician, u NotifyUser) (NotifyUser, error) {
	var out NotifyUser
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		cur, err := tx.NotifyUser(ctx, actor.TenantID, u.ID)
		if err != nil {
			return err
		}
		tn, err := tx.Tenant(ctx, actor.TenantID)
		if err != nil {
			return err
		}
		if err := checkNotifyUser(&u, tn.Region()); err != nil {
			return err
		}
		cur.Name, cur.Email, cur.SMS, cur.Voice = u.Name, u.Email, u.SMS, u.Voice
		cur.ByEmail, cur.BySMS, cur.ByVoice, cur.Schedule, cur.UpdatedAt = u.ByEmail, u.BySMS, u.ByVoice, u.Schedule, e.Now()
		if err := tx.UpdateNotifyUser(ctx, &cur); err != nil {
			return err
		}
		out = cur
		rules := make([]string, len(cur.Schedule))
		for i, r := range cur.Schedule {
			rules[i] = r.String()
		}
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), AuditNotifyUserUpdated, cur.ID,
			map[string]string{"group": cur.GroupID, "name": cur.Name, "ways": waysText(cur), "schedule": strings.Join(rules, "; ")})
	})
	return out, err
}

// RemoveNotifyUser takes a user out of their group.
func (e *Engine) RemoveNotifyUser(ctx context.Context, actor Technician, id string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		u, err := tx.NotifyUser(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteNotifyUser(ctx, actor.TenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), AuditNotifyUserRemoved, id,
			map[string]string{"group": u.GroupID, "name": u.Name})
	})
}

// SetNotifyTimeZone chooses the IANA zone the tenant's schedules are read
// in ("" for UTC).
func (e *Engine) SetNotifyTimeZone(ctx context.Context, actor Technician, zone string) error {
	zone = strings.TrimSpace(zone)
	if _, err := LoadTimeZone(zone); err != nil {
		return err
	}
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.SetNotifyTimeZone(ctx, actor.TenantID, zone); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), AuditNotifyTimeZone, actor.TenantID, map[string]string{"zone": zone})
	})
}

// OnCallUser is one user in the console's Test view: whether they are on
// call at the instant asked about, and their periods around it.
type OnCallUser struct {
	User    NotifyUser
	Active  bool
	Periods []Period
}

// OnCallGroup is a group in the Test view.
type OnCallGroup struct {
	Group NotifyGroup
	Users []OnCallUser
}

// OnCallTest answers the console's Test view: for every group, who is on
// call at `at`, and each user's periods in [from, to) (at most 62 days),
// read in the tenant's time zone, which it also returns.
func (e *Engine) OnCallTest(ctx context.Context, tenantID string, at, from, to time.Time) ([]OnCallGroup, *time.Location, error) {
	if !from.Before(to) || to.Sub(from) > 62*24*time.Hour {
		return nil, nil, Errorf(KindInvalid, "the test window must be between one minute and 62 days long")
	}
	groups, zone, err := e.NotifyGroups(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	loc, err := LoadTimeZone(zone)
	if err != nil {
		return nil, nil, err
	}
	out := make([]OnCallGroup, 0, len(groups))
	for _, g := range groups {
		og := OnCallGroup{Group: g.NotifyGroup, Users: []OnCallUser{}}
		for _, u := range g.Users {
			ps := u.Schedule.PeriodsBetween(from, to, loc)
			if ps == nil {
				ps = []Period{}
			}
			og.Users = append(og.Users, OnCallUser{User: u, Active: u.Schedule.ActiveAt(at, loc), Periods: ps})
		}
		out = append(out, og)
	}
	return out, loc, nil
}

// NotifyMessage is what an event tells the people on call.
type NotifyMessage struct {
	Subject string // e-mail subject
	Text    string // e-mail body and SMS text
	Say     string // spoken on a call; "" speaks Text
}

// notifyOnCall tells the users on call now, in every group of the tenant
// that wants ev, about it through the outbox in tx, each address once, and
// audits who was told (or that nobody was on call). It returns how many
// messages it queued and whether the tenant has any group for ev at all,
// so callers can keep an older fallback for tenants without one.
func (e *Engine) notifyOnCall(ctx context.Context, tx Tx, tenantID string, ev NotifyEvent, subject string, m NotifyMessage, now time.Time) (int, bool, error) {
	groups, err := tx.ListNotifyGroups(ctx, tenantID)
	if err != nil {
		return 0, false, err
	}
	var wanted []string
	for _, g := range groups {
		if g.Wants(ev) {
			wanted = append(wanted, g.ID)
		}
	}
	if len(wanted) == 0 {
		return 0, false, nil
	}
	zone, err := tx.NotifyTimeZone(ctx, tenantID)
	if err != nil {
		return 0, true, err
	}
	loc, err := LoadTimeZone(zone)
	if err != nil {
		e.log.Warn("on-call time zone unreadable; using UTC", "tenant", tenantID, "zone", zone)
		loc = time.UTC
	}
	users, err := tx.ListNotifyUsers(ctx, tenantID, "")
	if err != nil {
		return 0, true, err
	}
	seen := map[string]bool{}
	var told, skipped []string
	for _, u := range users {
		if !slices.Contains(wanted, u.GroupID) || !u.Schedule.ActiveAt(now, loc) {
			continue
		}
		for _, msg := range u.Ways() {
			key := string(msg.Kind) + ":" + msg.To
			if seen[key] {
				continue
			}
			seen[key] = true
			switch msg.Kind {
			case OutboxEmail:
				msg.Subject, msg.Text = m.Subject, m.Text
			case OutboxSMS:
				msg.Text = m.Text
			case OutboxVoice:
				say := m.Say
				if say == "" {
					say = m.Text
				}
				msg.Text, msg.Say = say, []string{say}
			}
			// The tenant's own account, or the server's: as for any message
			// (a way the tenant has not set up is skipped, not fatal to
			// what is being notified).
			ready, err := e.channelReady(ctx, tx, tenantID, msg.Kind)
			if err != nil {
				if ErrorKind(err) != KindUnavailable {
					return 0, true, err
				}
				skipped = append(skipped, u.Name+" by "+string(msg.Kind))
				continue
			}
			item := OutboxItem{ID: NewID("obx"), TenantID: tenantID, Kind: msg.Kind, Status: OutboxPending,
				NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.DevDelivery || !ready}
			if err := e.sealAndEnqueue(ctx, tx, &item, msg, 0); err != nil {
				return 0, true, fmt.Errorf("core: queue notification: %w", err)
			}
			told = append(told, u.Name+" by "+string(msg.Kind))
		}
	}
	detail := map[string]string{"event": string(ev)}
	if len(skipped) > 0 {
		detail["skipped"] = strings.Join(skipped, ", ") + " (channel not set up)"
	}
	if len(told) == 0 {
		return 0, true, e.audit(ctx, tx, tenantID, "system", AuditNotifyNobody, subject, detail)
	}
	detail["messages"], detail["to"] = fmt.Sprint(len(told)), strings.Join(told, ", ")
	return len(told), true, e.audit(ctx, tx, tenantID, "system", AuditNotifySent, subject, detail)
}

func joinEvents(evs []NotifyEvent) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = string(ev)
	}
	return strings.Join(s, ",")
}

func waysText(u NotifyUser) string {
	var w []string
	for _, m := range u.Ways() {
		w = append(w, string(m.Kind))
	}
	if len(w) == 0 {
		return "none"
	}
	return strings.Join(w, ",")
}

// queueOutcome queues what follows a verification's change of state in tx:
// its ticket note once it has ended, and the on-call notification of a
// failure where its policy asks for one.
func (e *Engine) queueOutcome(ctx context.Context, tx Tx, v Verification, now time.Time) error {
	if err := e.queueTicketNote(ctx, tx, v, now); err != nil {
		return err
	}
	return e.notifyFailed(ctx, tx, v, now)
}

// alertOnCallOrAdmins tells the on-call users of the groups that want
// ev; a tenant without such a group has every owner and admin e-mailed
// instead, as before groups existed. subject is what the audit names. It
// returns how many messages it queued.
func (e *Engine) alertOnCallOrAdmins(ctx context.Context, tx Tx, tenantID string, ev NotifyEvent, subject string, m NotifyMessage, now time.Time) (int, error) {
	n, grouped, err := e.notifyOnCall(ctx, tx, tenantID, ev, subject, m, now)
	if err != nil || grouped {
		return n, err
	}
	techs, err := tx.ListTechnicians(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	for _, t := range techs {
		if !t.Role.IsAdmin() || t.Email == "" {
			continue
		}
		msg := Outbound{Kind: OutboxEmail, To: t.Email, Subject: m.Subject, Text: m.Text}
		item := OutboxItem{ID: NewID("obx"), TenantID: tenantID, Kind: OutboxEmail, Status: OutboxPending,
			NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.DevDelivery || e.cfg.Senders[OutboxEmail] == nil}
		if err := e.sealAndEnqueue(ctx, tx, &item, msg, 0); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// notifyFailed tells the on-call users of the groups that want
// NotifyVerificationFailed that v failed, when v's policy says so
// (Policy.NotifyOnFailure). A denied workstation prompt has its own event
// (NotifyNotMe) and is not told twice.
func (e *Engine) notifyFailed(ctx context.Context, tx Tx, v Verification, now time.Time) error {
	if v.Status != StatusFailed || strings.HasPrefix(v.Detail, promptDeniedDetail) {
		return nil
	}
	policy, err := EffectivePolicy(ctx, tx, v.TenantID, v.ClientID)
	if err != nil || !policy.NotifyOnFailure {
		return err
	}
	contact, err := tx.Contact(ctx, v.TenantID, v.ContactID)
	if err != nil {
		return err
	}
	who := contact.Name()
	if c, err := tx.Client(ctx, v.TenantID, v.ClientID); err == nil {
		who += " (" + c.Name + ")"
	}
	how := methodWords[v.Method]
	if how == "" {
		how = string(v.Method)
	}
	ticket := ""
	if v.TicketRef != "" {
		ticket = " on ticket " + v.TicketRef
	}
	loc, err := tenantLocation(ctx, tx, v.TenantID)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Countersign alert: the verification of %s by %s%s failed at %s: %s.",
		who, how, ticket, FormatStamp(now, loc), v.Detail)
	_, _, err = e.notifyOnCall(ctx, tx, v.TenantID, NotifyVerificationFailed, v.ID, NotifyMessage{
		Subject: "Countersign alert: verification of " + contact.Name() + " failed", Text: text,
		Say: "Countersign alert. The verification of " + contact.Name() + " failed."}, now)
	return err
}
