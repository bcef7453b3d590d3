package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

func TestFormatTime(t *testing.T) {
	berlin, err := core.LoadTimeZone("Europe/Berlin")
	require.NoError(t, err)
	now := time.Date(2026, 12, 3, 22, 30, 0, 0, time.UTC) // 23:30 in Berlin
	for _, tc := range []struct {
		at   time.Time
		loc  *time.Location
		want string
	}{
		{now.Add(-2 * time.Minute), berlin, "23:28"},
		{now.Add(-2 * time.Minute), time.UTC, "22:28"},
		{now.Add(time.Hour), berlin, "Fri 4 Dec 00:30"}, // tomorrow in Berlin, today in UTC
		{now.Add(time.Hour), time.UTC, "23:30"},
		{time.Date(2025, 12, 31, 9, 5, 0, 0, time.UTC), berlin, "31 Dec 2025 10:05"},
	} {
		assert.Equal(t, tc.want, core.FormatTime(tc.at, now, tc.loc), "%s in %s", tc.at, tc.loc)
	}
	assert.Equal(t, "just now", core.Ago(now.Add(-30*time.Second), now))
	assert.Equal(t, "2 min ago", core.Ago(now.Add(-2*time.Minute-5*time.Second), now))
	assert.Equal(t, "3 h ago", core.Ago(now.Add(-3*time.Hour), now))
	assert.Empty(t, core.Ago(now.Add(-25*time.Hour), now))
	assert.Empty(t, core.Ago(now.Add(time.Minute), now))

	// Text read away from the pages: always the date, and the zone.
	assert.Equal(t, "3 Dec 2026 23:28 CET", core.FormatStamp(now.Add(-2*time.Minute), berlin))
	assert.Equal(t, "3 Dec 2026 22:28 UTC", core.FormatStamp(now.Add(-2*time.Minute), time.UTC))
	assert.Equal(t, "23:45 CET", core.FormatStampFrom(now.Add(15*time.Minute), now, berlin))
	assert.Equal(t, "Fri 4 Dec 07:30 CET", core.FormatStampFrom(now.Add(8*time.Hour), now, berlin))
	assert.Equal(t, "4 Dec 2026", core.FormatDate(now.Add(time.Hour), berlin))

	tn := core.Tenant{Branding: core.Branding{TimeZone: "Europe/Berlin"}}
	assert.Equal(t, "Europe/Berlin", tn.Location().String())
	tn.Branding.TimeZone = "Not/AZone"
	assert.Equal(t, time.UTC, tn.Location(), "a zone this server does not know is UTC")
	_, err = core.LoadTimeZone("Local")
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
}
