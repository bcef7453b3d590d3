package directory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// userAccountControl flags (MS-ADTS 2.2.16).
const (
	uacAccountDisable      = 0x2
	uacLockout             = 0x10
	uacDontExpirePassword  = 0x10000
	uacSmartcardRequired   = 0x40000
	uacPasswordExpired     = 0x800000
	fileTimeNever          = int64(0x7FFFFFFFFFFFFFFF)
	fileTimeUnixEpochTicks = int64(116444736000000000)
)

// SIDString renders a binary SID (objectSid) in its S-1-5-21-… form. It
// rejects a revision other than 1 and a length that does not match the
// sub-authority count (MS-DTYP 2.4.2.2).
func SIDString(b []byte) (string, error) {
	if len(b) < 8 || b[0] != 1 || b[1] > 15 || len(b) != 8+4*int(b[1]) {
		return "", errors.New("directory: malformed SID")
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "S-1-%d", auth)
	for i := 8; i < len(b); i += 4 {
		fmt.Fprintf(&s, "-%d", binary.LittleEndian.Uint32(b[i:]))
	}
	return s.String(), nil
}

// GUIDString renders a binary objectGUID in the usual text form: the first
// three groups little-endian, the last eight bytes in order.
func GUIDString(b []byte) (string, error) {
	if len(b) != 16 {
		return "", errors.New("directory: malformed GUID")
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16]), nil
}

// guidBytes is the inverse of GUIDString.
func guidBytes(s string) ([]byte, error) {
	h := strings.ReplaceAll(s, "-", "")
	if len(s) != 36 || len(h) != 32 {
		return nil, fmt.Errorf("directory: malformed GUID %q", s)
	}
	raw := make([]byte, 16)
	for i := range raw {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("directory: malformed GUID %q", s)
		}
		raw[i] = byte(v)
	}
	// Text order → stored order: swap the first three groups.
	b := make([]byte, 16)
	b[0], b[1], b[2], b[3] = raw[3], raw[2], raw[1], raw[0]
	b[4], b[5] = raw[5], raw[4]
	b[6], b[7] = raw[7], raw[6]
	copy(b[8:], raw[8:])
	return b, nil
}

// guidFilter is an LDAP filter matching objectGUID exactly.
func guidFilter(guid string) (string, error) {
	b, err := guidBytes(guid)
	if err != nil {
		return "", err
	}
	var f strings.Builder
	f.WriteString("(objectGUID=")
	for _, c := range b {
		fmt.Fprintf(&f, "\\%02x", c)
	}
	f.WriteString(")")
	return f.String(), nil
}

// FileTime converts a FILETIME (100 ns ticks since 1601-01-01 UTC) to a
// time. The special values 0 and 0x7FFFFFFFFFFFFFFF are not dates: the
// second result is false for them (and for anything before 1970).
func FileTime(ft int64) (time.Time, bool) {
	if ft <= fileTimeUnixEpochTicks || ft == fileTimeNever {
		return time.Time{}, false
	}
	ticks := ft - fileTimeUnixEpochTicks
	return time.Unix(ticks/1e7, (ticks%1e7)*100).UTC(), true
}

// interval converts an AD interval attribute (maxPwdAge, lockoutDuration:
// negative 100 ns ticks) to a duration; never reports false for "never"
// (0, or the most negative value).
func interval(v int64) (d time.Duration, ok bool) {
	if v == 0 || v == -fileTimeNever-1 {
		return 0, false
	}
	if v < 0 {
		v = -v
	}
	return time.Duration(v) * 100, true
}

// EncodeUnicodePwd returns the unicodePwd value for pw: the password in
// double quotes, as UTF-16LE bytes (MS-ADTS 3.1.1.3.1.5.1).
func EncodeUnicodePwd(pw string) []byte {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

var dataCode = regexp.MustCompile(`(?i)\bdata ([0-9a-f]{1,8})\b`)

// bindDataCode extracts the Win32 error after "data" in an AD bind
// diagnostic ("…AcceptSecurityContext error, data 52e, v1db1"), or "".
func bindDataCode(diag string) string {
	m := dataCode.FindStringSubmatch(diag)
	if m == nil {
		return ""
	}
	return strings.ToLower(m[1])
}

// normaliseProxyAddresses returns the SMTP addresses of a proxyAddresses
// value list, lower-cased and without the "smtp:" prefix; the primary one
// (upper-case "SMTP:") first. X.500, SIP and other types are dropped.
func normaliseProxyAddresses(vals []string) []string {
	var primary, rest []string
	for _, v := range vals {
		typ, addr, ok := strings.Cut(v, ":")
		if !ok || !strings.EqualFold(typ, "smtp") || addr == "" {
			continue
		}
		addr = strings.ToLower(strings.TrimSpace(addr))
		if typ == "SMTP" {
			primary = append(primary, addr)
		} else {
			rest = append(rest, addr)
		}
	}
	return append(primary, rest...)
}
