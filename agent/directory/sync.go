package directory

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// User is one directory user as harvested.
type User struct {
	GUID           string   `json:"guid"` // objectGUID, the stable key
	SID            string   `json:"sid"`
	DN             string   `json:"dn"`
	SAMAccountName string   `json:"sam_account_name"`
	UPN            string   `json:"upn,omitempty"`
	GivenName      string   `json:"given_name,omitempty"`
	Surname        string   `json:"surname,omitempty"`
	DisplayName    string   `json:"display_name,omitempty"`
	Mail           string   `json:"mail,omitempty"`
	ProxyAddresses []string `json:"proxy_addresses,omitempty"` // SMTP, lower-case, primary first
	Mobile         string   `json:"mobile,omitempty"`
	Phone          string   `json:"phone,omitempty"` // telephoneNumber
	Enabled        bool     `json:"enabled"`
	Locked         bool     `json:"locked"`
	// PasswordLastSet is zero when the user must change the password.
	PasswordLastSet time.Time `json:"password_last_set,omitzero"`
	// MustChangePassword: pwdLastSet is 0 (or the expiry is "now").
	MustChangePassword bool `json:"must_change_password,omitempty"`
	// PasswordNeverExpires: DONT_EXPIRE_PASSWORD, a smart card, or a
	// domain whose maximum password age is "never".
	PasswordNeverExpires bool `json:"password_never_expires,omitempty"`
	// PasswordExpiresAt is zero when it never expires or must change now.
	PasswordExpiresAt time.Time `json:"password_expires_at,omitzero"`
	USNChanged        int64     `json:"usn_changed"`
}

// Policy is the domain's default password and lockout policy.
type Policy struct {
	MaxPasswordAge    time.Duration `json:"max_password_age"` // 0: never expires
	MinPasswordAge    time.Duration `json:"min_password_age"`
	MinPasswordLength int           `json:"min_password_length"`
	HistoryLength     int           `json:"history_length"`
	Complexity        bool          `json:"complexity"` // pwdProperties & 1
	LockoutThreshold  int           `json:"lockout_threshold"`
	LockoutDuration   time.Duration `json:"lockout_duration"`
}

// State is what the harvester keeps between syncs, per DC.
type State struct {
	DC           string    `json:"dc"`            // dnsHostName
	InvocationID string    `json:"invocation_id"` // of the DC's NTDS Settings
	USN          int64     `json:"usn"`           // highestCommittedUSN before the last search
	Scope        string    `json:"scope"`         // hash of base DN and OUs
	FullAt       time.Time `json:"full_at,omitzero"`
}

// Result is one sync's outcome.
type Result struct {
	// Full: Users is the complete set; anything else known has gone.
	Full bool `json:"full"`
	// Reason says why a full sync was done ("first sync", "DC changed", …).
	Reason string `json:"reason,omitempty"`
	// Users are every user (full) or those added or changed (incremental).
	Users []User `json:"users"`
	// Removed are objectGUIDs deleted or moved out of the included OUs
	// since the last sync (incremental only). Some may never have been
	// seen by the receiver; it ignores those.
	Removed []string `json:"removed,omitempty"`
	Policy  Policy   `json:"policy"`
	State   State    `json:"state"`
}

// attributes read for each user.
var userAttrs = []string{
	"objectGUID", "objectSid", "sAMAccountName", "userPrincipalName", "givenName", "sn",
	"displayName", "mail", "proxyAddresses", "mobile", "telephoneNumber", "userAccountControl",
	"msDS-User-Account-Control-Computed", "pwdLastSet", "msDS-UserPasswordExpiryTimeComputed",
	"uSNChanged", "isDeleted",
}

// UserAttributes lists the attributes a sync reads (for a baseline dump).
func UserAttributes() []string { return append([]string(nil), userAttrs...) }

// UserFilter is the filter of a full sync: person accounts.
const UserFilter = "(&(objectCategory=person)(objectClass=user))"

type dcInfo struct {
	host, invocationID, baseDN string
	usn                        int64
}

func (c *Conn) rootDSE() (dcInfo, error) {
	res, err := c.l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"highestCommittedUSN", "dnsHostName", "dsServiceName", "defaultNamingContext"}, nil))
	if err != nil {
		return dcInfo{}, classify(err)
	}
	if len(res.Entries) != 1 {
		return dcInfo{}, errors.New("directory: the DC returned no rootDSE")
	}
	e := res.Entries[0]
	info := dcInfo{host: strings.ToLower(e.GetAttributeValue("dnsHostName")), baseDN: e.GetAttributeValue("defaultNamingContext")}
	if info.usn, err = strconv.ParseInt(e.GetAttributeValue("highestCommittedUSN"), 10, 64); err != nil {
		return dcInfo{}, fmt.Errorf("directory: rootDSE highestCommittedUSN %q: %v", e.GetAttributeValue("highestCommittedUSN"), err)
	}
	svc := e.GetAttributeValue("dsServiceName")
	if svc == "" {
		return dcInfo{}, errors.New("directory: the rootDSE names no dsServiceName")
	}
	res, err = c.l.Search(ldap.NewSearchRequest(svc, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"invocationId"}, nil))
	if err != nil {
		return dcInfo{}, classify(err)
	}
	if len(res.Entries) != 1 {
		return dcInfo{}, fmt.Errorf("directory: cannot read %s", svc)
	}
	if info.invocationID, err = GUIDString(res.Entries[0].GetRawAttributeValue("invocationId")); err != nil {
		return dcInfo{}, fmt.Errorf("directory: invocationId: %v", err)
	}
	return info, nil
}

// Policy reads the domain's default password and lockout policy.
func (c *Conn) Policy() (Policy, error) {
	base, err := c.baseDN()
	if err != nil {
		return Policy{}, err
	}
	return c.policy(base)
}

func (c *Conn) baseDN() (string, error) {
	if c.cfg.BaseDN != "" {
		return c.cfg.BaseDN, nil
	}
	info, err := c.rootDSE()
	if err != nil {
		return "", err
	}
	return info.baseDN, nil
}

func (c *Conn) policy(base string) (Policy, error) {
	res, err := c.l.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"maxPwdAge", "minPwdAge", "minPwdLength", "pwdHistoryLength", "pwdProperties", "lockoutThreshold", "lockoutDuration"}, nil))
	if err != nil {
		return Policy{}, classify(err)
	}
	if len(res.Entries) != 1 {
		return Policy{}, fmt.Errorf("directory: cannot read the domain object %s", base)
	}
	e := res.Entries[0]
	num := func(a string) int64 { v, _ := strconv.ParseInt(e.GetAttributeValue(a), 10, 64); return v }
	var p Policy
	p.MaxPasswordAge, _ = interval(num("maxPwdAge"))
	p.MinPasswordAge, _ = interval(num("minPwdAge"))
	p.LockoutDuration, _ = interval(num("lockoutDuration"))
	p.MinPasswordLength = int(num("minPwdLength"))
	p.HistoryLength = int(num("pwdHistoryLength"))
	p.Complexity = num("pwdProperties")&1 != 0
	p.LockoutThreshold = int(num("lockoutThreshold"))
	return p, nil
}

func scopeHash(base string, ous []string) string {
	s := append([]string{strings.ToLower(base)}, lowerAll(ous)...)
	sort.Strings(s[1:])
	h := sha256.Sum256([]byte(strings.Join(s, "\n")))
	return hex.EncodeToString(h[:8])
}

func lowerAll(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strings.ToLower(s)
	}
	return out
}

// Sync reads the users of the included OUs: incrementally from prev when
// prev is from this DC, its USNs still line up and the scope is the same;
// in full otherwise. now decides whether the last full sync is too old.
// On any error the result is nil: a sync is used whole or not at all.
func (c *Conn) Sync(prev State, now time.Time) (*Result, error) {
	info, err := c.rootDSE()
	if err != nil {
		return nil, err
	}
	base := c.cfg.BaseDN
	if base == "" {
		base = info.baseDN
	}
	ous := c.cfg.OUs
	if len(ous) == 0 {
		ous = []string{base}
	}
	scopes := make([]*ldap.DN, len(ous))
	for i, ou := range ous {
		if scopes[i], err = ldap.ParseDN(ou); err != nil {
			return nil, fmt.Errorf("directory: OU %q is not a DN: %v", ou, err)
		}
	}
	pol, err := c.policy(base)
	if err != nil {
		return nil, err
	}
	state := State{DC: info.host, InvocationID: info.invocationID, USN: info.usn, Scope: scopeHash(base, ous), FullAt: prev.FullAt}
	full := c.cfg.FullEvery
	if full <= 0 {
		full = 24 * time.Hour
	}
	reason := ""
	switch {
	case prev.USN == 0 || prev.DC == "":
		reason = "first sync"
	case prev.DC != state.DC:
		reason = fmt.Sprintf("DC changed from %s to %s", prev.DC, state.DC)
	case prev.InvocationID != state.InvocationID:
		reason = "the DC's invocationId changed (restored from a backup)"
	case state.USN < prev.USN:
		reason = fmt.Sprintf("USN rolled back from %d to %d", prev.USN, state.USN)
	case prev.Scope != state.Scope:
		reason = "the included OUs changed"
	case now.Sub(prev.FullAt) >= full:
		reason = "the last full sync is older than " + full.String()
	}
	res := &Result{Policy: pol, Reason: reason, Full: reason != ""}
	if res.Full {
		state.FullAt = now
		seen := map[string]bool{}
		for _, ou := range ous {
			err := c.search(ou, UserFilter, nil, func(e *ldap.Entry) error {
				u, err := userFromEntry(e, pol)
				if err != nil {
					return err
				}
				if !seen[u.GUID] {
					seen[u.GUID] = true
					res.Users = append(res.Users, u)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	} else if state.USN > prev.USN {
		// Tombstones keep objectClass but lose objectCategory, so this
		// filter names the class and leaves out computers.
		filter := fmt.Sprintf("(&(objectClass=user)(!(objectClass=computer))(uSNChanged>=%d))", prev.USN+1)
		err := c.search(base, filter, []ldap.Control{ldap.NewControlMicrosoftShowDeleted()}, func(e *ldap.Entry) error {
			guid, err := GUIDString(e.GetRawAttributeValue("objectGUID"))
			if err != nil {
				return fmt.Errorf("directory: %s: objectGUID: %v", e.DN, err)
			}
			if strings.EqualFold(e.GetAttributeValue("isDeleted"), "TRUE") || !inScope(e.DN, scopes) {
				res.Removed = append(res.Removed, guid)
				return nil
			}
			u, err := userFromEntry(e, pol)
			if err != nil {
				return err
			}
			res.Users = append(res.Users, u)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	res.State = state
	return res, nil
}

func inScope(dn string, scopes []*ldap.DN) bool {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return false
	}
	for _, s := range scopes {
		if s.EqualFold(d) || s.AncestorOfFold(d) {
			return true
		}
	}
	return false
}

// search runs a paged subtree search, calling fn for each entry, page by
// page; referrals (other naming contexts) are ignored.
func (c *Conn) search(base, filter string, controls []ldap.Control, fn func(*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(c.cfg.pageSize())
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, userAttrs, append(append([]ldap.Control(nil), controls...), paging))
	for {
		res, err := c.l.Search(req)
		if err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				return fmt.Errorf("directory: %s does not exist on the DC", base)
			}
			return classify(err)
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		ctl, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if ctl == nil || len(ctl.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(ctl.Cookie)
	}
}

func userFromEntry(e *ldap.Entry, pol Policy) (User, error) {
	var u User
	var err error
	if u.GUID, err = GUIDString(e.GetRawAttributeValue("objectGUID")); err != nil {
		return User{}, fmt.Errorf("directory: %s: objectGUID: %v", e.DN, err)
	}
	if u.SID, err = SIDString(e.GetRawAttributeValue("objectSid")); err != nil {
		return User{}, fmt.Errorf("directory: %s: objectSid: %v", e.DN, err)
	}
	num := func(a string) (int64, bool) {
		s := e.GetAttributeValue(a)
		if s == "" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	u.DN = e.DN
	u.SAMAccountName = e.GetAttributeValue("sAMAccountName")
	u.UPN = e.GetAttributeValue("userPrincipalName")
	u.GivenName = e.GetAttributeValue("givenName")
	u.Surname = e.GetAttributeValue("sn")
	u.DisplayName = e.GetAttributeValue("displayName")
	u.Mail = strings.ToLower(strings.TrimSpace(e.GetAttributeValue("mail")))
	u.ProxyAddresses = normaliseProxyAddresses(e.GetAttributeValues("proxyAddresses"))
	u.Mobile = strings.TrimSpace(e.GetAttributeValue("mobile"))
	u.Phone = strings.TrimSpace(e.GetAttributeValue("telephoneNumber"))
	uac, _ := num("userAccountControl")
	computed, hasComputed := num("msDS-User-Account-Control-Computed")
	u.Enabled = uac&uacAccountDisable == 0
	u.Locked = hasComputed && computed&uacLockout != 0
	u.USNChanged, _ = num("uSNChanged")
	pls, _ := num("pwdLastSet")
	u.PasswordLastSet, _ = FileTime(pls)
	exp, hasExp := num("msDS-UserPasswordExpiryTimeComputed")
	u.PasswordExpiresAt, u.PasswordNeverExpires, u.MustChangePassword = passwordExpiry(pls, uac, exp, hasExp, pol)
	return u, nil
}

// passwordExpiry computes when a password expires: from the DC's
// constructed msDS-UserPasswordExpiryTimeComputed when it was returned
// (it includes fine-grained policies), else from pwdLastSet and the
// domain's maximum password age.
func passwordExpiry(pwdLastSet, uac, computed int64, hasComputed bool, pol Policy) (at time.Time, never, mustChange bool) {
	if hasComputed {
		switch {
		case computed == fileTimeNever:
			return time.Time{}, true, false
		case computed == 0:
			return time.Time{}, false, true
		}
		t, _ := FileTime(computed)
		return t, false, false
	}
	if uac&(uacDontExpirePassword|uacSmartcardRequired) != 0 {
		return time.Time{}, true, false
	}
	if pwdLastSet == 0 {
		return time.Time{}, false, true
	}
	if pol.MaxPasswordAge == 0 {
		return time.Time{}, true, false
	}
	t, ok := FileTime(pwdLastSet)
	if !ok {
		return time.Time{}, false, true
	}
	return t.Add(pol.MaxPasswordAge), false, false
}
