package directory

import (
	"encoding/base64"
	"slices"
	"testing"
	"time"
)

func TestSIDString(t *testing.T) {
	// Samba's Administrator, as ldapsearch printed it.
	b, _ := base64.StdEncoding.DecodeString("AQUAAAAAAAUVAAAAlbVTCVvskWBILgj09AEAAA==")
	cases := []struct {
		in   []byte
		want string
		ok   bool
	}{
		{b, "S-1-5-21-156480917-1620175963-4094176840-500", true},
		{[]byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}, "S-1-5-18", true},
		{[]byte{1, 0, 0, 0, 0, 0, 0, 1}, "S-1-1", true},
		{[]byte{2, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}, "", false}, // revision
		{[]byte{1, 2, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}, "", false}, // length
		{[]byte{1, 1, 0}, "", false},
		{nil, "", false},
	}
	for _, c := range cases {
		got, err := SIDString(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("SIDString(%x) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestGUIDRoundTrip(t *testing.T) {
	raw := []byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	s, err := GUIDString(raw)
	if err != nil || s != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Fatalf("GUIDString = %q, %v", s, err)
	}
	back, err := guidBytes(s)
	if err != nil || !slices.Equal(back, raw) {
		t.Fatalf("guidBytes = %x, %v", back, err)
	}
	f, _ := guidFilter(s)
	if f != `(objectGUID=\33\22\11\00\55\44\77\66\88\99\aa\bb\cc\dd\ee\ff)` {
		t.Errorf("guidFilter = %s", f)
	}
	for _, bad := range []string{"", "0011223344556677", "00112233-4455-6677-8899-aabbccddeefg", "00112233-4455-6677-8899aabbccddeeff0"} {
		if _, err := guidBytes(bad); err == nil {
			t.Errorf("guidBytes(%q) accepted", bad)
		}
	}
	if _, err := GUIDString(raw[:15]); err == nil {
		t.Error("15-byte GUID accepted")
	}
}

func TestFileTimeAndInterval(t *testing.T) {
	at, ok := FileTime(134407107928488450)
	if !ok || at.Format(time.RFC3339) != "2026-12-02T18:46:32Z" {
		t.Errorf("FileTime = %v %v", at, ok)
	}
	for _, v := range []int64{0, fileTimeNever, 100} {
		if _, ok := FileTime(v); ok {
			t.Errorf("FileTime(%d) is a date", v)
		}
	}
	if d, ok := interval(-36288000000000); !ok || d != 42*24*time.Hour {
		t.Errorf("interval(42 days) = %v %v", d, ok)
	}
	for _, v := range []int64{0, -fileTimeNever - 1} {
		if _, ok := interval(v); ok {
			t.Errorf("interval(%d) is not never", v)
		}
	}
}

func TestPasswordExpiryFallback(t *testing.T) {
	pol := Policy{MaxPasswordAge: 42 * 24 * time.Hour}
	set := int64(134407107928488450)
	setAt, _ := FileTime(set)
	cases := []struct {
		name              string
		pls, uac, comp    int64
		hasComp           bool
		pol               Policy
		at                time.Time
		never, mustChange bool
	}{
		{"computed date", set, 512, set + 10, true, pol, setAt.Add(time.Microsecond), false, false},
		{"computed never", set, 512, fileTimeNever, true, pol, time.Time{}, true, false},
		{"computed now", 0, 512, 0, true, pol, time.Time{}, false, true},
		{"max age", set, 512, 0, false, pol, setAt.Add(42 * 24 * time.Hour), false, false},
		{"dont expire", set, 512 | uacDontExpirePassword, 0, false, pol, time.Time{}, true, false},
		{"smart card", set, 512 | uacSmartcardRequired, 0, false, pol, time.Time{}, true, false},
		{"must change", 0, 512, 0, false, pol, time.Time{}, false, true},
		{"domain never", set, 512, 0, false, Policy{}, time.Time{}, true, false},
	}
	for _, c := range cases {
		at, never, must := passwordExpiry(c.pls, c.uac, c.comp, c.hasComp, c.pol)
		if !at.Equal(c.at) || never != c.never || must != c.mustChange {
			t.Errorf("%s: %v never=%v must=%v; want %v %v %v", c.name, at, never, must, c.at, c.never, c.mustChange)
		}
	}
}

func TestEncodeUnicodePwdAndCodes(t *testing.T) {
	if got := EncodeUnicodePwd("aé"); !slices.Equal(got, []byte{'"', 0, 'a', 0, 0xe9, 0, '"', 0}) {
		t.Errorf("EncodeUnicodePwd = %x", got)
	}
	if c := bindDataCode("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1"); c != "52e" {
		t.Errorf("data code = %q", c)
	}
	if c := bindDataCode("no code here"); c != "" {
		t.Errorf("data code = %q", c)
	}
	got := normaliseProxyAddresses([]string{"smtp:b@x.test", "X500:/o=x", "SMTP:A@X.test", "sip:a@x", "smtp:"})
	if !slices.Equal(got, []string{"a@x.test", "b@x.test"}) {
		t.Errorf("proxy addresses = %q", got)
	}
}
