package core

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DirectoryUser is a user of a client's Active Directory as the harvester
// (an agent on a domain server) last reported it. GUID (objectGUID) is the
// key within a client; SID is what bindings and workstation agents use.
type DirectoryUser struct {
	TenantID       string
	ClientID       string
	GUID           string
	SID            string
	DeviceID       string // the harvester that reported it last
	DN             string
	SAMAccountName string
	UPN            string
	GivenName      string
	Surname        string
	DisplayName    string
	Mail           string   // lower-case
	ProxyAddresses []string // SMTP addresses, lower-case, primary first
	Mobile         string   // as written in the directory
	Phone          string
	MobileE164     string // Mobile in E.164; "" when it does not parse
	PhoneE164      string
	Enabled        bool
	Locked         bool
	// PasswordLastSet is zero when the user must change the password.
	PasswordLastSet      time.Time
	MustChangePassword   bool
	PasswordNeverExpires bool
	PasswordExpiresAt    time.Time // zero when it never expires or must change now
	USNChanged           int64
	SyncedAt             time.Time // when this record was last reported
}

// Name returns the display name, else "Given Surname", else the account.
func (u DirectoryUser) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.GivenName + " " + u.Surname); n != "" {
		return n
	}
	return u.SAMAccountName
}

// Emails returns the user's addresses: mail, then the proxy addresses,
// without repeats.
func (u DirectoryUser) Emails() []string {
	out := make([]string, 0, 1+len(u.ProxyAddresses))
	if u.Mail != "" {
		out = append(out, u.Mail)
	}
	for _, p := range u.ProxyAddresses {
		if p != u.Mail {
			out = append(out, p)
		}
	}
	return out
}

// DirectoryUpload is one sync's report from a harvester. Full means Users
// is the complete set of the client's harvested users (anything else on
// record has gone); otherwise Users were added or changed and Removed are
// objectGUIDs deleted or moved out of the harvested OUs.
type DirectoryUpload struct {
	Full    bool
	Users   []DirectoryUser
	Removed []string
	// Policy is the domain's password policy as the harvester read it;
	// nil keeps the one on record.
	Policy *PasswordPolicy
}

// DirectorySyncSummary says what an upload changed.
type DirectorySyncSummary struct {
	Full                    bool
	Added, Changed, Removed int
	Total                   int // users on record after the upload
}

// MatchDecisionState is what a person decided about a proposed match.
type MatchDecisionState string

// Decisions on a match.
const (
	MatchAccepted MatchDecisionState = "accepted"
	MatchRejected MatchDecisionState = "rejected"
)

// MatchDecision records that a directory user was accepted as, or
// rejected as, a contact. An accepted one is also a binding (SID ↔
// contact); a rejected one keeps the pair from being proposed again.
type MatchDecision struct {
	TenantID  string
	ClientID  string
	GUID      string
	ContactID string
	State     MatchDecisionState
	By        string
	At        time.Time
}

// DirectoryTx is the part of a transaction that holds directory users and
// match decisions, always within one tenant and client.
type DirectoryTx interface {
	// PutDirectoryUser creates or replaces the user (tenant, client, GUID).
	PutDirectoryUser(ctx context.Context, u *DirectoryUser) error
	// DeleteDirectoryUser removes one with its match decisions and
	// self-serve switch; a missing one is not an error.
	DeleteDirectoryUser(ctx context.Context, tenantID, clientID, guid string) error
	// DirectoryUsers returns a client's users ordered by name.
	DirectoryUsers(ctx context.Context, tenantID, clientID string) ([]DirectoryUser, error)
	// PutMatchDecision creates or replaces the decision on (GUID, contact).
	PutMatchDecision(ctx context.Context, m *MatchDecision) error
	// MatchDecisions returns a client's decisions.
	MatchDecisions(ctx context.Context, tenantID, clientID string) ([]MatchDecision, error)
	// RemoveBinding deletes the binding of (tenant, client, SID) when it
	// still binds contactID, and reports whether it did.
	RemoveBinding(ctx context.Context, tenantID, clientID, sid, contactID string) (bool, error)
}

// maxDirectoryUsers bounds one upload.
const maxDirectoryUsers = 200_000

var (
	guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sidPattern  = regexp.MustCompile(`^S-1-[0-9]+(-[0-9]+){1,15}$`)
)

func (up DirectoryUpload) check() error {
	if len(up.Users) > maxDirectoryUsers || len(up.Removed) > maxDirectoryUsers {
		return Errorf(KindInvalid, "a directory upload holds at most %d users", maxDirectoryUsers)
	}
	seen := make(map[string]bool, len(up.Users))
	for i, u := range up.Users {
		if !guidPattern.MatchString(u.GUID) {
			return Errorf(KindInvalid, "user %d: guid %q is not an objectGUID (lower-case 8-4-4-4-12 hex)", i, u.GUID)
		}
		if seen[u.GUID] {
			return Errorf(KindInvalid, "user %d: guid %s appears twice", i, u.GUID)
		}
		seen[u.GUID] = true
		if !sidPattern.MatchString(u.SID) {
			return Errorf(KindInvalid, "user %d: sid %q is not a SID (S-1-5-21-…)", i, u.SID)
		}
		for _, f := range []string{u.DN, u.SAMAccountName, u.UPN, u.GivenName, u.Surname, u.DisplayName, u.Mail, u.Mobile, u.Phone} {
			if len(f) > 1024 {
				return Errorf(KindInvalid, "user %d: a field is longer than 1024 bytes", i)
			}
		}
		if len(u.ProxyAddresses) > 100 {
			return Errorf(KindInvalid, "user %d: more than 100 proxy addresses", i)
		}
	}
	for _, g := range up.Removed {
		if !guidPattern.MatchString(g) {
			return Errorf(KindInvalid, "removed guid %q is not an objectGUID", g)
		}
	}
	return nil
}

func directoryUserEqual(a, b DirectoryUser) bool {
	if !a.PasswordLastSet.Equal(b.PasswordLastSet) || !a.PasswordExpiresAt.Equal(b.PasswordExpiresAt) {
		return false
	}
	for _, u := range []*DirectoryUser{&a, &b} {
		u.PasswordLastSet, u.PasswordExpiresAt, u.SyncedAt, u.DeviceID = time.Time{}, time.Time{}, time.Time{}, ""
		if len(u.ProxyAddresses) == 0 {
			u.ProxyAddresses = nil
		}
	}
	return reflect.DeepEqual(a, b)
}

// UploadDirectory stores a harvester's sync for the harvester's own tenant
// and client: nothing in the upload names either, so a harvester can reach
// no other. A full upload removes the users it lacks. The whole upload is
// one transaction with its audit: it lands entirely or not at all. Users
// seen for the first time get self-serve on when the tenant chose so.
func (e *Engine) UploadDirectory(ctx context.Context, d Device, up DirectoryUpload) (DirectorySyncSummary, error) {
	if err := up.check(); err != nil {
		return DirectorySyncSummary{}, err
	}
	sum := DirectorySyncSummary{Full: up.Full}
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		t, err := uploadingTenant(ctx, tx, d)
		if err != nil {
			return err
		}
		existing, err := tx.DirectoryUsers(ctx, d.TenantID, d.ClientID)
		if err != nil {
			return err
		}
		known := make(map[string]DirectoryUser, len(existing))
		for _, u := range existing {
			known[u.GUID] = u
		}
		set, err := tx.SelfServeSettings(ctx, d.TenantID)
		if err != nil {
			return err
		}
		now := e.Now()
		if up.Policy != nil {
			p := *up.Policy
			p.TenantID, p.ClientID, p.UpdatedAt = d.TenantID, d.ClientID, now
			if err := tx.PutPasswordPolicy(ctx, &p); err != nil {
				return err
			}
		}
		present, added, err := putDirectoryUsers(ctx, tx, d, t, up.Users, known, now, &sum)
		if err != nil {
			return err
		}
		if err := removeDirectoryUsers(ctx, tx, d, up, known, present, &sum); err != nil {
			return err
		}
		if err := e.importSelfServe(ctx, tx, d, set, added); err != nil {
			return err
		}
		for g := range present {
			known[g] = DirectoryUser{}
		}
		sum.Total = len(known)
		return e.audit(ctx, tx, d.TenantID, deviceActor(d.ID), AuditDirectorySynced, d.ClientID, map[string]string{
			"full": boolText(up.Full), "added": strconv.Itoa(sum.Added), "changed": strconv.Itoa(sum.Changed),
			"removed": strconv.Itoa(sum.Removed), "total": strconv.Itoa(sum.Total), "device": d.ID,
		})
	})
	return sum, err
}

// uploadingTenant returns the tenant of the device d, read again in tx:
// a device revoked since it authenticated uploads nothing.
func uploadingTenant(ctx context.Context, tx Tx, d Device) (Tenant, error) {
	cur, err := tx.Device(ctx, d.TenantID, d.ID)
	if err != nil {
		return Tenant{}, err
	}
	if cur.Revoked() {
		return Tenant{}, errDeviceAuth
	}
	return tx.Tenant(ctx, d.TenantID)
}

// putDirectoryUsers stores the uploaded users under d's tenant and client,
// addresses normalised and numbers in E.164 for the tenant's region,
// counting the added and changed ones against known in sum. It returns
// the GUIDs present and the users seen for the first time.
func putDirectoryUsers(ctx context.Context, tx Tx, d Device, t Tenant, users []DirectoryUser, known map[string]DirectoryUser,
	now time.Time, sum *DirectorySyncSummary) (map[string]bool, []DirectoryUser, error) {
	present := make(map[string]bool, len(users))
	var added []DirectoryUser
	for _, u := range users {
		u.TenantID, u.ClientID, u.DeviceID, u.SyncedAt = d.TenantID, d.ClientID, d.ID, now
		u.Mail = strings.ToLower(strings.TrimSpace(u.Mail))
		u.ProxyAddresses = normalizeAddresses(u.ProxyAddresses)
		u.MobileE164, u.PhoneE164 = "", ""
		if u.Mobile != "" {
			u.MobileE164, _ = NormalizePhone(u.Mobile, t.Region())
		}
		if u.Phone != "" {
			u.PhoneE164, _ = NormalizePhone(u.Phone, t.Region())
		}
		present[u.GUID] = true
		prev, had := known[u.GUID]
		switch {
		case !had:
			sum.Added++
			added = append(added, u)
		case !directoryUserEqual(prev, u):
			sum.Changed++
		}
		if err := tx.PutDirectoryUser(ctx, &u); err != nil {
			return nil, nil, err
		}
	}
	return present, added, nil
}

// removeDirectoryUsers deletes the users the upload removes — those it
// names, or for a full upload every known user it lacks — never one it
// also sent, counting them in sum and dropping them from known.
func removeDirectoryUsers(ctx context.Context, tx Tx, d Device, up DirectoryUpload, known map[string]DirectoryUser, present map[string]bool, sum *DirectorySyncSummary) error {
	remove := up.Removed
	if up.Full {
		remove = nil
		for g := range known {
			if !present[g] {
				remove = append(remove, g)
			}
		}
	}
	for _, g := range remove {
		if _, had := known[g]; !had || present[g] {
			continue
		}
		if err := tx.DeleteDirectoryUser(ctx, d.TenantID, d.ClientID, g); err != nil {
			return err
		}
		delete(known, g)
		sum.Removed++
	}
	return nil
}

// normalizeAddresses lower-cases and trims e-mail addresses (a harvester
// may send them as the directory wrote them), dropping blanks and repeats
// and keeping the order (the primary first).
func normalizeAddresses(in []string) []string {
	out := in[:0:0]
	for _, a := range in {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
