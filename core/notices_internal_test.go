package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoticeForCountsLocalDays: the days left before a password expires
// are counted by the tenant's calendar, not UTC's — late in the evening
// west of UTC, just after midnight east of it, and across the changes to
// and from daylight saving time (local midnights 23 and 25 hours apart).
func TestNoticeForCountsLocalDays(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	akl, err := time.LoadLocation("Pacific/Auckland")
	require.NoError(t, err)
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	cases := []struct {
		name         string
		loc          *time.Location
		now, expires time.Time
		kind         NoticeKind
		left         int
	}{
		// 23:30 on the 9th in New York is 04:30 on the 10th in UTC.
		{"23:30 local, west of UTC", ny, at(ny, 2026, 11, 9, 23, 30), at(ny, 2026, 11, 12, 10, 0), NoticeExpiring, 3},
		{"tomorrow locally, today in UTC", ny, at(ny, 2026, 11, 9, 23, 30), at(ny, 2026, 11, 10, 9, 0), NoticeExpiring, 1},
		{"today, late", ny, at(ny, 2026, 11, 9, 23, 30), at(ny, 2026, 11, 9, 23, 50), NoticeExpiresToday, 0},
		// 00:30 on the 10th in Auckland is 11:30 on the 9th in UTC.
		{"today locally, tomorrow in UTC", akl, at(akl, 2026, 11, 10, 0, 30), at(akl, 2026, 11, 10, 20, 0), NoticeExpiresToday, 0},
		{"just after midnight, east of UTC", akl, at(akl, 2026, 11, 10, 0, 30), at(akl, 2026, 11, 20, 8, 0), NoticeExpiring, 10},
		{"eleven days: not yet", akl, at(akl, 2026, 11, 9, 23, 30), at(akl, 2026, 11, 20, 8, 0), "", 0},
		// New York leaves summer time at 02:00 on 1 Nov 2026 (a 25-hour
		// day) and enters it at 02:00 on 14 Mar 2027 (a 23-hour day).
		{"over the autumn change", ny, at(ny, 2026, 10, 31, 23, 30), at(ny, 2026, 11, 2, 23, 0), NoticeExpiring, 2},
		{"over the spring change", ny, at(ny, 2027, 3, 13, 23, 30), at(ny, 2027, 3, 15, 0, 30), NoticeExpiring, 2},
		{"on the spring day", ny, at(ny, 2027, 3, 14, 23, 30), at(ny, 2027, 3, 15, 0, 30), NoticeExpiring, 1},
		{"expired yesterday", ny, at(ny, 2026, 11, 9, 0, 30), at(ny, 2026, 11, 8, 23, 30), "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, left := noticeFor(DirectoryUser{PasswordExpiresAt: tc.expires.UTC()}, tc.now.UTC(), tc.loc)
			assert.Equal(t, tc.kind, kind)
			assert.Equal(t, tc.left, left)
		})
	}
}
