// Package directory is the harvester's LDAP side: it reads users from an
// Active Directory domain controller and changes their passwords and
// lockout state. It is platform-neutral (go-ldap over TCP), so it runs in
// the agent on a Windows domain server and is tested on Linux against a
// real Samba AD DC (scripts/samba-ad.sh).
//
// # Transport
//
// A connection is LDAPS (ldaps://) or LDAP upgraded with StartTLS; plain
// LDAP is refused unless Config.AllowPlain says otherwise, and a password
// is never sent over one even then. The DC's certificate is checked
// against the configured CA bundle (or the system roots).
//
// # Sync
//
// Sync follows Microsoft's uSNChanged polling: it stays on one DC, records
// that DC's dnsHostName, invocationId and highestCommittedUSN (read before
// searching), and next time asks only for objects whose uSNChanged is
// higher. A different DC, a new invocationId (the DC was restored from a
// backup), a highestCommittedUSN lower than the recorded one (rollback), a
// change of the included OUs or an old full sync forces a full resync. A
// full sync is the complete set of users of the included OUs, so whatever
// the receiver knew and the full set lacks has gone. An incremental sync
// also asks for tombstones (the Show Deleted control) and for users moved
// out of the included OUs, and reports both as removed; an account without
// the right to read tombstones still learns of deletions at the next full
// sync.
//
// # Passwords
//
// Expiry is the DC's constructed msDS-UserPasswordExpiryTimeComputed
// (which includes fine-grained password policies) when it is returned,
// else pwdLastSet plus the domain's maxPwdAge. ResetPassword replaces
// unicodePwd (a quoted UTF-16LE value) and Unlock writes lockoutTime 0,
// both only over an encrypted connection. Errors are mapped to this
// package's sentinel errors (ErrInvalidCredentials, ErrPasswordPolicy, …);
// the DC's diagnostic text is kept for logs only, and passwords are never
// logged.
package directory
