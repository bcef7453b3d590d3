package directory

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// findUser returns the DN of the user with objectGUID guid, which must be
// a person account inside the included OUs.
func (c *Conn) findUser(guid string) (string, error) {
	filter, err := guidFilter(guid)
	if err != nil {
		return "", err
	}
	base, err := c.baseDN()
	if err != nil {
		return "", err
	}
	res, err := c.l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		"(&"+UserFilter+filter+")", []string{"objectGUID"}, nil))
	if err != nil {
		return "", classify(err)
	}
	if len(res.Entries) != 1 {
		return "", fmt.Errorf("%w: %s", ErrNoSuchUser, guid)
	}
	dn := res.Entries[0].DN
	ous := c.cfg.OUs
	if len(ous) == 0 {
		ous = []string{base}
	}
	scopes := make([]*ldap.DN, 0, len(ous))
	for _, ou := range ous {
		d, err := ldap.ParseDN(ou)
		if err != nil {
			return "", fmt.Errorf("directory: OU %q is not a DN: %v", ou, err)
		}
		scopes = append(scopes, d)
	}
	if !inScope(dn, scopes) {
		return "", fmt.Errorf("%w: %s is outside the included OUs", ErrNoSuchUser, guid)
	}
	return dn, nil
}

// ResetPassword sets the password of the user with objectGUID guid (an
// administrative reset: the old password is not needed), and when
// mustChange also requires a change at next logon (pwdLastSet 0). Both go
// in one Modify, so the DC applies both or neither. It refuses an
// unencrypted connection before sending anything.
func (c *Conn) ResetPassword(guid, password string, mustChange bool) error {
	if !c.encrypted {
		return ErrNotEncrypted
	}
	if password == "" {
		return errors.New("directory: the new password is empty")
	}
	dn, err := c.findUser(guid)
	if err != nil {
		return err
	}
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace("unicodePwd", []string{string(EncodeUnicodePwd(password))})
	if mustChange {
		req.Replace("pwdLastSet", []string{"0"})
	}
	if err := c.l.Modify(req); err != nil {
		return redact(classify(err), password)
	}
	return nil
}

// Unlock clears the lockout of the user with objectGUID guid (lockoutTime
// 0, which also resets badPwdCount).
func (c *Conn) Unlock(guid string) error {
	if !c.encrypted {
		return ErrNotEncrypted
	}
	dn, err := c.findUser(guid)
	if err != nil {
		return err
	}
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace("lockoutTime", []string{"0"})
	if err := c.l.Modify(req); err != nil {
		return classify(err)
	}
	return nil
}

// redact removes any copy of the password from an error's text.
func redact(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return redactedError{err: err, text: strings.ReplaceAll(err.Error(), password, "[password]")}
}

type redactedError struct {
	err  error
	text string
}

func (e redactedError) Error() string { return e.text }
func (e redactedError) Unwrap() error { return e.err }
