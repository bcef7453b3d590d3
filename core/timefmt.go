package core

import (
	"fmt"
	"time"
)

// The one way Countersign's pages write a time (issue 12), here for
// server-rendered pages and in assets/static/api.js (CSTime) for the
// scripts: 24-hour, in the tenant's time zone, with the date when it is
// not today and the year when it is not this year.
//
//	14:02            today
//	Tue 2 Dec 14:02  another day this year
//	2 Dec 2025 14:02 another year

// Location returns the tenant's time zone (Branding.TimeZone), or UTC when
// it has none or names no zone this server knows.
func (t Tenant) Location() *time.Location {
	if loc, err := LoadTimeZone(t.Branding.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// FormatTime writes t in loc as the pages do, relative to now's day.
func FormatTime(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	switch {
	case sameDay(t, now):
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("Mon 2 Jan 15:04")
	}
	return t.Format("2 Jan 2006 15:04")
}

// Ago says how long before now t was, in the pages' words: "just now",
// "1 min ago", "5 min ago", "2 h ago"; "" when t is more than a day ago
// or in the future (the time alone says enough then).
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0 || d >= 24*time.Hour:
		return ""
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	}
	return fmt.Sprintf("%d h ago", int(d/time.Hour))
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
