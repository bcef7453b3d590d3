package core

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	// The server reads tenants' time zones wherever it runs, even on a
	// machine without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Weekdays is a set of days of the week: bit i is time.Weekday(i), so
// Sunday is bit 0.
type Weekdays uint8

// Common sets of days.
const (
	AllDays     Weekdays = 0x7f
	WorkingDays Weekdays = 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday
)

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<d) != 0 }

// MaxRuleRange is the longest a schedule rule may run: one year, so that an
// on-call rota is looked at again at least once a year.
const MaxRuleRange = 366 // days, inclusive of both ends

// ScheduleRule is one on-call rule of a notification user, read in the
// tenant's time zone. The user is on call from Start to End on each day
// between From and Until (inclusive) whose weekday is in Days and which
// falls in the first OnDays days of a cycle of EveryDays days counted from
// From. End "24:00" is the end of the day; an End at or before Start runs
// overnight, until End on the next day.
//
// The seed's examples:
//
//	every working day 9:00–24:00         Days WorkingDays, Start 09:00, End 24:00, EveryDays 1, OnDays 1
//	1 day on, 2 days off, 12:00–24:00    Days AllDays, Start 12:00, End 24:00, EveryDays 3, OnDays 1
//	every second week Mon–Fri 9:00–16:00 From a Monday, Days WorkingDays, Start 09:00, End 16:00, EveryDays 14, OnDays 7
//
// Days are counted on the calendar, not in 24-hour steps, so a daylight
// saving change moves neither the cycle nor the working hours on the clock.
type ScheduleRule struct {
	From      string   `json:"from"`  // first day, "2006-01-02"
	Until     string   `json:"until"` // last day, inclusive; at most MaxRuleRange days after From
	Start     string   `json:"start"` // "15:04"
	End       string   `json:"end"`   // "15:04", or "24:00"
	Days      Weekdays `json:"days"`  // 0 means none: the rule is never active
	EveryDays int      `json:"every_days"`
	OnDays    int      `json:"on_days"`
}

// Period is a stretch of time [Start, End).
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// parsedRule is a rule read once for computing periods.
type parsedRule struct {
	from, until time.Time // civil dates as UTC midnights
	start, end  int       // minutes of the day; end may be 1440
	days        Weekdays
	every, on   int
}

const dateLayout = "2006-01-02"

// parseClock reads "15:04" (or "24:00" when allow24) as minutes of the day.
func parseClock(field, s string, allow24 bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	switch {
	case !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || mm < 0 || mm > 59 || hh < 0:
		return 0, Errorf(KindInvalid, "%s must be a time of day like 09:00, not %q", field, s)
	case hh == 24 && mm == 0 && allow24:
		return 1440, nil
	case hh > 23:
		return 0, Errorf(KindInvalid, "%s must be a time of day between 00:00 and %s, not %q", field, map[bool]string{true: "24:00", false: "23:59"}[allow24], s)
	}
	return hh*60 + mm, nil
}

func (r ScheduleRule) parse() (parsedRule, error) {
	var p parsedRule
	var err error
	if p.from, err = time.Parse(dateLayout, r.From); err != nil {
		return p, Errorf(KindInvalid, "the first day must be a date like 2026-01-31, not %q", r.From)
	}
	if p.until, err = time.Parse(dateLayout, r.Until); err != nil {
		return p, Errorf(KindInvalid, "the last day must be a date like 2026-12-31, not %q", r.Until)
	}
	days := int(p.until.Sub(p.from)/(24*time.Hour)) + 1
	switch {
	case days < 1:
		return p, Errorf(KindInvalid, "the last day (%s) is before the first day (%s)", r.Until, r.From)
	case days > MaxRuleRange:
		return p, Errorf(KindInvalid, "a rule runs for at most a year: %s to %s is %d days; add another rule for the next year", r.From, r.Until, days)
	}
	if p.start, err = parseClock("the start time", r.Start, false); err != nil {
		return p, err
	}
	if p.end, err = parseClock("the end time", r.End, true); err != nil {
		return p, err
	}
	if p.end == p.start {
		return p, Errorf(KindInvalid, "the start and end times are the same (%s); for a whole day use 00:00 to 24:00", r.Start)
	}
	if r.Days&^AllDays != 0 {
		return p, Errorf(KindInvalid, "days must be a set of weekdays")
	}
	p.days, p.every, p.on = r.Days, r.EveryDays, r.OnDays
	switch {
	case p.every < 1 || p.every > MaxRuleRange:
		return p, Errorf(KindInvalid, "repeat every must be between 1 and %d days, not %d", MaxRuleRange, p.every)
	case p.on < 1 || p.on > p.every:
		return p, Errorf(KindInvalid, "the on-call period must be between 1 day and the repeat (%d days), not %d", p.every, p.on)
	}
	return p, nil
}

// Validate reports whether the rule can be used, with a message for the
// person who wrote it.
func (r ScheduleRule) Validate() error {
	_, err := r.parse()
	return err
}

// periods appends the rule's periods that overlap [from, to) in loc,
// clipped to it.
func (p parsedRule) periods(out []Period, from, to time.Time, loc *time.Location) []Period {
	civil := func(t time.Time) time.Time {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	// The day before from's may hold an overnight period that runs into it.
	first := civil(from).AddDate(0, 0, -1)
	last := civil(to)
	if first.Before(p.from) {
		first = p.from
	}
	if last.After(p.until) {
		last = p.until
	}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		idx := int(d.Sub(p.from) / (24 * time.Hour))
		if idx%p.every >= p.on || !p.days.Has(d.Weekday()) {
			continue
		}
		y, m, dd := d.Date()
		endDay := dd
		if p.end <= p.start {
			endDay++ // overnight
		}
		s := time.Date(y, m, dd, p.start/60, p.start%60, 0, 0, loc)
		e := time.Date(y, m, endDay, p.end/60, p.end%60, 0, 0, loc)
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if s.Before(e) {
			out = append(out, Period{Start: s, End: e})
		}
	}
	return out
}

// Schedule is a notification user's rules. Rules may overlap: the user is
// on call whenever any rule says so.
type Schedule []ScheduleRule

// Validate checks every rule, naming the first that is wrong.
func (s Schedule) Validate() error {
	for i, r := range s {
		if err := r.Validate(); err != nil {
			return Errorf(KindInvalid, "rule %d: %s", i+1, ErrorMessage(err))
		}
	}
	return nil
}

// PeriodsBetween returns when the schedule is active within [from, to), in
// loc: sorted, with overlapping and touching periods of different rules
// merged. A rule that does not validate contributes nothing.
func (s Schedule) PeriodsBetween(from, to time.Time, loc *time.Location) []Period {
	if loc == nil {
		loc = time.UTC
	}
	var out []Period
	for _, r := range s {
		p, err := r.parse()
		if err != nil {
			continue
		}
		out = p.periods(out, from, to, loc)
	}
	slices.SortFunc(out, func(a, b Period) int { return a.Start.Compare(b.Start) })
	merged := out[:0]
	for _, p := range out {
		if n := len(merged); n > 0 && !p.Start.After(merged[n-1].End) {
			if p.End.After(merged[n-1].End) {
				merged[n-1].End = p.End
			}
			continue
		}
		merged = append(merged, p)
	}
	return merged
}

// ActiveAt reports whether the schedule is active at t, in loc. It agrees
// with PeriodsBetween: t is active exactly when a period holds it.
func (s Schedule) ActiveAt(t time.Time, loc *time.Location) bool {
	return len(s.PeriodsBetween(t, t.Add(time.Nanosecond), loc)) > 0
}

// LoadTimeZone reads an IANA time zone name; "" is UTC.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, Errorf(KindInvalid, "name the time zone, like Europe/London; %q depends on the server", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Errorf(KindInvalid, "%q is not a time zone name like Europe/London or America/New_York", name)
	}
	return loc, nil
}

// String gives the rule in words, for the console and audit details.
func (r ScheduleRule) String() string {
	days := r.Days.String()
	cycle := ""
	if r.EveryDays > 1 {
		cycle = fmt.Sprintf(", %d of every %d days", r.OnDays, r.EveryDays)
	}
	return fmt.Sprintf("%s %s–%s%s, %s to %s", days, r.Start, r.End, cycle, r.From, r.Until)
}

// String names the days: "every day", "Mon–Fri", or a list like "Mon, Wed".
func (w Weekdays) String() string {
	switch w & AllDays {
	case AllDays:
		return "every day"
	case WorkingDays:
		return "Mon–Fri"
	case 0:
		return "no days"
	}
	var names []string
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		if w.Has(d) {
			names = append(names, d.String()[:3])
		}
	}
	return strings.Join(names, ", ")
}
