package core_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := core.LoadTimeZone(name)
	require.NoError(t, err)
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// fmtPeriods writes periods in UTC, so the DST shifts show in the
// expectations.
func fmtPeriods(ps []core.Period) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Start.UTC().Format("01-02 15:04") + "/" + p.End.UTC().Format("01-02 15:04")
	}
	return out
}

// TestScheduleWorkingDays: every working day 9:00–24:00 in New York, over
// the spring change (Sunday 8 March 2026, EST to EDT): the hours stay 9:00
// to midnight on the clock, so they start at 14:00 UTC before and 13:00
// UTC after, and the weekend is off.
func TestScheduleWorkingDays(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	s := core.Schedule{{From: "2026-03-02", Until: "2026-03-15", Start: "09:00", End: "24:00", Days: core.WorkingDays, EveryDays: 1, OnDays: 1}}
	require.NoError(t, s.Validate())
	got := s.PeriodsBetween(utc("2026-03-01 00:00"), utc("2026-03-20 00:00"), ny)
	assert.Equal(t, []string{
		"03-02 14:00/03-03 05:00", "03-03 14:00/03-04 05:00", "03-04 14:00/03-05 05:00", "03-05 14:00/03-06 05:00", "03-06 14:00/03-07 05:00",
		"03-09 13:00/03-10 04:00", "03-10 13:00/03-11 04:00", "03-11 13:00/03-12 04:00", "03-12 13:00/03-13 04:00", "03-13 13:00/03-14 04:00",
	}, fmtPeriods(got))
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-03-06 13:30", false}, // Fri 08:30 EST
		{"2026-03-06 14:00", true},  // Fri 09:00 EST
		{"2026-03-07 04:59", true},  // Fri 23:59 EST
		{"2026-03-07 05:00", false}, // Sat 00:00
		{"2026-03-07 15:00", false}, // Saturday
		{"2026-03-09 03:59", false}, // Sun 23:59 EDT
		{"2026-03-09 13:30", true},  // Mon 09:30 EDT (08:30 had it still been EST)
		{"2026-03-09 12:30", false}, // Mon 08:30 EDT
		{"2026-03-10 03:59", true},  // Mon 23:59 EDT
		{"2026-03-10 04:00", false}, // Tue 00:00 EDT
		{"2026-03-16 14:00", false}, // after the last day
		{"2026-03-02 13:59", false}, // before the first hour
	} {
		assert.Equal(t, tc.want, s.ActiveAt(utc(tc.at), ny), tc.at)
	}
}

// TestScheduleOneOnTwoOff: one day on, two off, 12:00–24:00 in London over
// the autumn change (Sunday 25 October 2026, BST to GMT). The cycle counts
// calendar days, so the 25-hour Sunday does not shift it: 22, 25, 28, 31
// October and 3 November are on, at 11:00 UTC in summer time and 12:00
// after.
func TestScheduleOneOnTwoOff(t *testing.T) {
	london := mustZone(t, "Europe/London")
	s := core.Schedule{{From: "2026-10-22", Until: "2026-11-04", Start: "12:00", End: "24:00", Days: core.AllDays, EveryDays: 3, OnDays: 1}}
	require.NoError(t, s.Validate())
	got := s.PeriodsBetween(utc("2026-10-20 00:00"), utc("2026-11-10 00:00"), london)
	assert.Equal(t, []string{
		"10-22 11:00/10-22 23:00", "10-25 12:00/10-26 00:00", "10-28 12:00/10-29 00:00",
		"10-31 12:00/11-01 00:00", "11-03 12:00/11-04 00:00",
	}, fmtPeriods(got))
	assert.True(t, s.ActiveAt(utc("2026-10-22 11:00"), london), "12:00 BST")
	assert.False(t, s.ActiveAt(utc("2026-10-22 10:59"), london))
	assert.False(t, s.ActiveAt(utc("2026-10-23 12:00"), london), "an off day")
	assert.False(t, s.ActiveAt(utc("2026-10-24 12:00"), london), "an off day")
	assert.False(t, s.ActiveAt(utc("2026-10-25 11:30"), london), "11:30 GMT, not yet noon")
	assert.True(t, s.ActiveAt(utc("2026-10-25 12:00"), london), "noon GMT")

	// A whole-day rule on the change days is as long as the day: 23 hours
	// in spring, 25 in autumn.
	whole := func(day string) core.Schedule {
		return core.Schedule{{From: day, Until: day, Start: "00:00", End: "24:00", Days: core.AllDays, EveryDays: 1, OnDays: 1}}
	}
	spring := whole("2026-03-29").PeriodsBetween(utc("2026-03-28 00:00"), utc("2026-03-31 00:00"), london)
	require.Len(t, spring, 1)
	assert.Equal(t, 23*time.Hour, spring[0].End.Sub(spring[0].Start))
	autumn := whole("2026-10-25").PeriodsBetween(utc("2026-10-24 00:00"), utc("2026-10-27 00:00"), london)
	require.Len(t, autumn, 1)
	assert.Equal(t, 25*time.Hour, autumn[0].End.Sub(autumn[0].Start))
}

// TestScheduleEverySecondWeek: every second week Mon–Fri 9:00–16:00 in New
// York from Monday 19 October 2026, over the autumn change (1 November):
// the weeks of 19 October, 2 and 16 November are on, 26 October and 9
// November off, and the hours stay 9 to 4 on the clock.
func TestScheduleEverySecondWeek(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	s := core.Schedule{{From: "2026-10-19", Until: "2027-10-18", Start: "09:00", End: "16:00", Days: core.WorkingDays, EveryDays: 14, OnDays: 7}}
	require.NoError(t, s.Validate())
	got := s.PeriodsBetween(utc("2026-10-19 00:00"), utc("2026-11-21 00:00"), ny)
	var want []string
	for _, d := range []string{"10-19", "10-20", "10-21", "10-22", "10-23"} {
		want = append(want, d+" 13:00/"+d+" 20:00") // EDT
	}
	for _, d := range []string{"11-02", "11-03", "11-04", "11-05", "11-06", "11-16", "11-17", "11-18", "11-19", "11-20"} {
		want = append(want, d+" 14:00/"+d+" 21:00") // EST
	}
	assert.Equal(t, want, fmtPeriods(got))
	assert.True(t, s.ActiveAt(utc("2026-11-02 14:00"), ny), "Mon 09:00 EST, an on week")
	assert.False(t, s.ActiveAt(utc("2026-11-02 13:30"), ny), "Mon 08:30 EST")
	assert.False(t, s.ActiveAt(utc("2026-10-26 15:00"), ny), "an off week")
	assert.False(t, s.ActiveAt(utc("2026-11-07 15:00"), ny), "Saturday of an on week")
	// A year later the fortnight still falls on the same weeks.
	assert.True(t, s.ActiveAt(utc("2027-10-04 15:00"), ny), "Mon 4 Oct 2027 (week 50)")
	assert.False(t, s.ActiveAt(utc("2027-10-11 15:00"), ny), "Mon 11 Oct 2027 (week 51)")
}

// TestScheduleOverlapsAndOvernight: several rules of one user overlap and
// merge; an end before the start runs overnight into the next day.
func TestScheduleOverlapsAndOvernight(t *testing.T) {
	s := core.Schedule{
		{From: "2026-06-01", Until: "2026-06-30", Start: "09:00", End: "17:00", Days: core.WorkingDays, EveryDays: 1, OnDays: 1},
		{From: "2026-06-01", Until: "2026-06-30", Start: "16:00", End: "20:00", Days: 1 << time.Monday, EveryDays: 1, OnDays: 1},
		{From: "2026-06-01", Until: "2026-06-30", Start: "22:00", End: "06:00", Days: 1 << time.Friday, EveryDays: 1, OnDays: 1},
	}
	require.NoError(t, s.Validate())
	got := s.PeriodsBetween(utc("2026-06-01 00:00"), utc("2026-06-08 00:00"), time.UTC)
	assert.Equal(t, []string{
		"06-01 09:00/06-01 20:00", "06-02 09:00/06-02 17:00", "06-03 09:00/06-03 17:00", "06-04 09:00/06-04 17:00",
		"06-05 09:00/06-05 17:00", "06-05 22:00/06-06 06:00",
	}, fmtPeriods(got))
	assert.True(t, s.ActiveAt(utc("2026-06-06 05:59"), time.UTC), "Friday's night shift, Saturday morning")
	assert.False(t, s.ActiveAt(utc("2026-06-06 06:00"), time.UTC))
	// A window that starts inside a period clips it.
	clipped := s.PeriodsBetween(utc("2026-06-06 03:00"), utc("2026-06-06 04:00"), time.UTC)
	assert.Equal(t, []string{"06-06 03:00/06-06 04:00"}, fmtPeriods(clipped))
}

// TestScheduleActiveAgreesWithPeriods: over many random instants in a zone
// with DST, ActiveAt says yes exactly when a period of PeriodsBetween holds
// the instant.
func TestScheduleActiveAgreesWithPeriods(t *testing.T) {
	for _, zone := range []string{"Europe/London", "America/New_York", "Australia/Lord_Howe"} {
		loc := mustZone(t, zone)
		s := core.Schedule{
			{From: "2026-01-05", Until: "2026-12-31", Start: "09:00", End: "24:00", Days: core.WorkingDays, EveryDays: 1, OnDays: 1},
			{From: "2026-01-01", Until: "2026-12-31", Start: "01:30", End: "02:30", Days: core.AllDays, EveryDays: 3, OnDays: 1},
			{From: "2026-01-05", Until: "2027-01-04", Start: "23:00", End: "03:00", Days: core.WorkingDays, EveryDays: 14, OnDays: 7},
		}
		from, to := utc("2026-01-01 00:00"), utc("2027-01-10 00:00")
		periods := s.PeriodsBetween(from, to, loc)
		r := rand.New(rand.NewPCG(1, 2))
		for range 5000 {
			at := from.Add(time.Duration(r.Int64N(int64(to.Sub(from)))))
			in := false
			for _, p := range periods {
				if !at.Before(p.Start) && at.Before(p.End) {
					in = true
					break
				}
			}
			require.Equal(t, in, s.ActiveAt(at, loc), "%s at %s", zone, at)
		}
	}
}

func TestScheduleRuleValidate(t *testing.T) {
	ok := core.ScheduleRule{From: "2026-01-01", Until: "2026-12-31", Start: "09:00", End: "17:00", Days: core.WorkingDays, EveryDays: 1, OnDays: 1}
	require.NoError(t, ok.Validate())
	tests := []struct {
		name string
		edit func(r *core.ScheduleRule)
		want string
	}{
		{"over a year", func(r *core.ScheduleRule) { r.Until = "2027-01-02" }, "at most a year"},
		{"ends before it starts", func(r *core.ScheduleRule) { r.Until = "2025-12-31" }, "before the first day"},
		{"bad date", func(r *core.ScheduleRule) { r.From = "1/1/2026" }, "date like"},
		{"bad time", func(r *core.ScheduleRule) { r.Start = "9am" }, "time of day"},
		{"start 24:00", func(r *core.ScheduleRule) { r.Start = "24:00" }, "23:59"},
		{"hour 25", func(r *core.ScheduleRule) { r.End = "25:00" }, "24:00"},
		{"same times", func(r *core.ScheduleRule) { r.End = "09:00" }, "same"},
		{"no repeat", func(r *core.ScheduleRule) { r.EveryDays = 0 }, "repeat every"},
		{"on longer than repeat", func(r *core.ScheduleRule) { r.EveryDays, r.OnDays = 3, 4 }, "on-call period"},
		{"bad days", func(r *core.ScheduleRule) { r.Days = 0x80 }, "weekdays"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			err := r.Validate()
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// A year to the day, both ends included, is allowed (366 in a leap year).
	leap := ok
	leap.From, leap.Until = "2028-01-01", "2028-12-31"
	assert.NoError(t, leap.Validate())
	_, err := core.LoadTimeZone("Mars/Olympus")
	assert.Error(t, err)
}
