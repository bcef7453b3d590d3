package core

import (
	"context"
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
//
// Text read away from the pages (a ticket note, an alert) cannot know the
// reader's today, so it always has the date, and the zone's name beside
// it (FormatStamp): "3 Dec 2026 14:02 IST".

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

// FormatStamp writes t in loc for text read away from the pages: with the
// date and the zone's abbreviation, "3 Dec 2026 14:02 IST" (an offset such
// as "+0530" for a zone without one).
func FormatStamp(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 Jan 2006 15:04 MST")
}

// FormatStampFrom writes t as FormatTime does relative to ref's day (a time
// written by FormatStamp beside it) and with the zone: "22:02 IST" the
// same day, "Fri 4 Dec 06:02 IST" another.
func FormatStampFrom(t, ref time.Time, loc *time.Location) string {
	return FormatTime(t, ref, loc) + " " + t.In(loc).Format("MST")
}

// FormatDate writes t's day in loc: "3 Dec 2026".
func FormatDate(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 Jan 2006")
}

// tenantLocation reads tenant id's time zone for the text it is sent.
func tenantLocation(ctx context.Context, tx Tx, id string) (*time.Location, error) {
	t, err := tx.Tenant(ctx, id)
	if err != nil {
		return nil, err
	}
	return t.Location(), nil
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
