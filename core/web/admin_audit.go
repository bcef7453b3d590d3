package web

import (
	"bytes"
	"encoding/csv"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerAdminAuditRoutes(r *mux.Router) {
	r.HandleFunc("/audit", s.handleAdminAudit).Methods(http.MethodGet)
	r.HandleFunc("/audit.csv", s.handleAdminAuditCSV).Methods(http.MethodGet)
}

// auditFilter is the audit page's query: exact action, actor and subject, a
// time range and a page of events older than BeforeSeq, newest first; all
// of it is the store's AuditQuery.
type auditFilter struct {
	core.AuditQuery
}

const (
	defaultAuditPage = 50
	maxAuditPage     = 500
	// maxAuditExport bounds one CSV export; narrow the range for more.
	maxAuditExport = 100_000
)

// parseAuditFilter reads the query string. A time is RFC 3339 (an instant),
// or a wall-clock time or date without a zone (2026-11-02T09:00, 2026-11-02
// for midnight), read in loc, the tenant's time zone: the audit page sends
// its datetime-local fields as typed, so "from 09:00" means 09:00 where the
// tenant's times are written, whatever zone the admin's browser is in.
func parseAuditFilter(q url.Values, tenantTechs map[string]string, loc *time.Location) (auditFilter, error) {
	f := auditFilter{core.AuditQuery{Limit: defaultAuditPage, NewestFirst: true}}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"action", &f.Action}, {"actor", &f.Actor}, {"subject", &f.Subject}} {
		v := strings.TrimSpace(q.Get(p.name))
		if err := checkText(p.name, v, 200); err != nil {
			return f, err
		}
		*p.dst = v
	}
	// An actor may be given as a technician's email.
	if id, ok := tenantTechs[strings.ToLower(f.Actor)]; ok {
		f.Actor = "tech:" + id
	}
	var err error
	if f.Since, err = parseAuditTime("from", q.Get("from"), loc); err != nil {
		return f, err
	}
	if f.Until, err = parseAuditTime("to", q.Get("to"), loc); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, core.Errorf(core.KindInvalid, "the start of the time range must be before its end")
	}
	if v := q.Get("before"); v != "" {
		if f.BeforeSeq, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeSeq < 1 {
			return f, core.Errorf(core.KindInvalid, "before must be an event number")
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > maxAuditPage {
			return f, core.Errorf(core.KindInvalid, "limit must be a number from 1 to %d", maxAuditPage)
		}
	}
	return f, nil
}

func parseAuditTime(name, v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, core.Errorf(core.KindInvalid, "%s must be a time like 2026-11-02T09:00:00Z or a date like 2026-11-02", name)
}

// auditEvents returns the events f selects, newest first, at most limit,
// and whether older ones match too. The store does the filtering and the
// paging: one more than limit is read to tell whether there are more.
func (s *Server) auditEvents(r *http.Request, f auditFilter, limit int) ([]core.AuditEvent, bool, error) {
	q := f.AuditQuery
	q.NewestFirst, q.Limit = true, limit+1
	evs, err := s.engine.AuditEvents(r.Context(), techFrom(r).TenantID, q)
	if err != nil {
		return nil, false, err
	}
	if len(evs) > limit {
		return evs[:limit], true, nil
	}
	return evs, false, nil
}

// auditTechs maps technician ids to names and lower-case emails to ids.
func (s *Server) auditTechs(r *http.Request) (names, byEmail map[string]string, err error) {
	names, byEmail = map[string]string{}, map[string]string{}
	techs, err := s.engine.Technicians(r.Context(), techFrom(r).TenantID)
	for _, t := range techs {
		names["tech:"+t.ID] = t.Name
		byEmail[strings.ToLower(t.Email)] = t.ID
	}
	return names, byEmail, err
}

// auditRequest reads what both audit handlers need: the technicians'
// names, the filter (its zone-less times in the tenant's time zone) and
// the tenant.
func (s *Server) auditRequest(r *http.Request) (names map[string]string, f auditFilter, t core.Tenant, err error) {
	names, byEmail, err := s.auditTechs(r)
	if err != nil {
		return nil, f, t, err
	}
	if t, err = s.signedInTenant(r); err != nil {
		return nil, f, t, err
	}
	f, err = parseAuditFilter(r.URL.Query(), byEmail, t.Location())
	return names, f, t, err
}

type auditAdminOut struct {
	auditOut
	ActorName string `json:"actor_name,omitempty"`
}

// handleAdminAudit handles "GET /api/v1/admin/audit?action=&actor=&subject=&from=&to=&before=&limit=":
// one page of the audit log, newest first; next_before asks for the next
// (older) page and is 0 after the last.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request) {
	names, f, _, err := s.auditRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	evs, more, err := s.auditEvents(r, f, f.Limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]auditAdminOut, 0, len(evs))
	for _, e := range evs {
		out = append(out, auditAdminOut{ActorName: names[e.Actor], auditOut: auditOut{Seq: e.Seq, At: e.At,
			Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail}})
	}
	var next int64
	if more {
		next = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_before": next})
}

// handleAdminAuditCSV handles "GET /api/v1/admin/audit.csv" with the
// filters of the audit page (without paging): the events as a CSV download,
// newest first.
func (s *Server) handleAdminAuditCSV(w http.ResponseWriter, r *http.Request) {
	names, f, t, err := s.auditRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.BeforeSeq = 0
	evs, more, err := s.auditEvents(r, f, maxAuditExport)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if more {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "more than %d events match; narrow the time range and export in parts", maxAuditExport))
		return
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write([]string{"seq", "time_utc", "actor", "actor_name", "action", "subject", "detail"})
	for _, e := range evs {
		_ = cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339), csvCell(e.Actor),
			csvCell(names[e.Actor]), csvCell(e.Action), csvCell(e.Subject), csvCell(detailText(e.Detail))})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := "countersign-audit-" + safeFilePart(t.Slug) + "-" + s.engine.Now().Format("20060102-1504") + ".csv"
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// csvCell defuses spreadsheet formulas (CSV injection, OWASP): a cell that
// starts with = + - @, a tab or a carriage return is prefixed with ' so
// Excel and LibreOffice show it as text instead of evaluating it.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// detailText writes an event's detail as "key=value; …" in key order.
func detailText(d map[string]string) string {
	keys := slices.Sorted(maps.Keys(d))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+d[k])
	}
	return strings.Join(parts, "; ")
}

// safeFilePart keeps a slug to the characters a filename header can carry
// unquoted.
func safeFilePart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
}
