package web

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The directory: a harvester's uploads (agent API, device credential) and
// the console's match report of directory users against PSA contacts,
// with accept and reject per row or in bulk.

// maxDirectoryBody caps a directory upload: about 60,000 users of typical
// size. A larger domain uploads a full sync in one request per OU set
// chosen in the console.
const maxDirectoryBody = 32 << 20

// directoryUserJSON is a harvested user on the wire; the field names are
// those of agent/directory.User.
type directoryUserJSON struct {
	GUID                 string    `json:"guid"`
	SID                  string    `json:"sid"`
	DN                   string    `json:"dn"`
	SAMAccountName       string    `json:"sam_account_name"`
	UPN                  string    `json:"upn,omitempty"`
	GivenName            string    `json:"given_name,omitempty"`
	Surname              string    `json:"surname,omitempty"`
	DisplayName          string    `json:"display_name,omitempty"`
	Mail                 string    `json:"mail,omitempty"`
	ProxyAddresses       []string  `json:"proxy_addresses,omitempty"`
	Mobile               string    `json:"mobile,omitempty"`
	Phone                string    `json:"phone,omitempty"`
	Enabled              bool      `json:"enabled"`
	Locked               bool      `json:"locked"`
	PasswordLastSet      time.Time `json:"password_last_set,omitzero"`
	MustChangePassword   bool      `json:"must_change_password,omitempty"`
	PasswordNeverExpires bool      `json:"password_never_expires,omitempty"`
	PasswordExpiresAt    time.Time `json:"password_expires_at,omitzero"`
	USNChanged           int64     `json:"usn_changed"`
}

// directoryUploadJSON is "POST /agent/v1/directory": one sync's result.
// Of the policy, the password rules are kept (the self-serve page checks
// new passwords against them); State is the harvester's own (accepted,
// not stored).
type directoryUploadJSON struct {
	Full    bool                 `json:"full"`
	Reason  string               `json:"reason,omitempty"`
	Users   []directoryUserJSON  `json:"users"`
	Removed []string             `json:"removed,omitempty"`
	Policy  *directoryPolicyJSON `json:"policy,omitempty"`
	State   map[string]any       `json:"state,omitempty"`
}

// directoryPolicyJSON is agent/directory.Policy on the wire; the fields
// not named here (ages, lockout) are accepted and not kept.
type directoryPolicyJSON struct {
	MinPasswordLength int  `json:"min_password_length"`
	HistoryLength     int  `json:"history_length"`
	Complexity        bool `json:"complexity"`
	MaxPasswordAge    any  `json:"max_password_age,omitempty"`
	MinPasswordAge    any  `json:"min_password_age,omitempty"`
	LockoutThreshold  any  `json:"lockout_threshold,omitempty"`
	LockoutDuration   any  `json:"lockout_duration,omitempty"`
}

type directorySummaryJSON struct {
	Full    bool `json:"full"`
	Added   int  `json:"added"`
	Changed int  `json:"changed"`
	Removed int  `json:"removed"`
	Total   int  `json:"total"`
}

func (s *Server) registerDirectoryAgentRoutes(authed *mux.Router) {
	authed.HandleFunc("/directory", s.handleAgentDirectory).Methods(http.MethodPost)
}

// handleAgentDirectory handles "POST /agent/v1/directory": the harvester's
// sync, stored for the device's own tenant and client.
func (s *Server) handleAgentDirectory(w http.ResponseWriter, r *http.Request) {
	var req directoryUploadJSON
	if err := decodeJSONMax(w, r, &req, maxDirectoryBody); err != nil {
		s.writeError(w, r, err)
		return
	}
	up := core.DirectoryUpload{Full: req.Full, Removed: req.Removed, Users: make([]core.DirectoryUser, len(req.Users))}
	for i, u := range req.Users {
		up.Users[i] = core.DirectoryUser{GUID: u.GUID, SID: u.SID, DN: u.DN, SAMAccountName: u.SAMAccountName, UPN: u.UPN,
			GivenName: u.GivenName, Surname: u.Surname, DisplayName: u.DisplayName, Mail: u.Mail, ProxyAddresses: u.ProxyAddresses,
			Mobile: u.Mobile, Phone: u.Phone, Enabled: u.Enabled, Locked: u.Locked, PasswordLastSet: u.PasswordLastSet,
			MustChangePassword: u.MustChangePassword, PasswordNeverExpires: u.PasswordNeverExpires,
			PasswordExpiresAt: u.PasswordExpiresAt, USNChanged: u.USNChanged}
	}
	if p := req.Policy; p != nil {
		if p.MinPasswordLength < 0 || p.MinPasswordLength > 255 || p.HistoryLength < 0 || p.HistoryLength > 1024 {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "the password policy's lengths are out of range"))
			return
		}
		up.Policy = &core.PasswordPolicy{MinLength: p.MinPasswordLength, Complexity: p.Complexity, History: p.HistoryLength}
	}
	d := deviceFrom(r)
	sum, err := s.engine.UploadDirectory(r.Context(), d, up)
	if err != nil {
		s.log.WarnContext(r.Context(), "directory upload refused", "request_id", requestID(r), "tenant", d.TenantID, "device", d.ID, "err", err)
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "directory synced", "request_id", requestID(r), "tenant", d.TenantID, "device", d.ID,
		"full", sum.Full, "added", sum.Added, "changed", sum.Changed, "removed", sum.Removed, "total", sum.Total)
	writeJSON(w, http.StatusOK, directorySummaryJSON{Full: sum.Full, Added: sum.Added, Changed: sum.Changed, Removed: sum.Removed, Total: sum.Total})
}

func (s *Server) registerDirectoryConsoleRoutes(r *mux.Router) {
	r.HandleFunc("/clients/{id}/directory/matches", s.handleDirectoryMatches).Methods(http.MethodGet)
	admin := r.NewRoute().Subrouter()
	admin.Use(s.withAdmin)
	admin.HandleFunc("/clients/{id}/directory/matches", s.handleDecideMatches).Methods(http.MethodPost)
	admin.HandleFunc("/clients/{id}/directory/selfserve", s.handleSetSelfServe).Methods(http.MethodPost)
	admin.HandleFunc("/clients/{id}/directory/selfserve/{guid}/lockout", s.handleClearSelfServeLockout).Methods(http.MethodDelete)
	admin.HandleFunc("/clients/{id}/directory/welcome", s.handleSendWelcome).Methods(http.MethodPost)
	admin.HandleFunc("/admin/directory/settings", s.handleGetSelfServeSettings).Methods(http.MethodGet)
	admin.HandleFunc("/admin/directory/settings", s.handlePutSelfServeSettings).Methods(http.MethodPut)
}

// selfServeJSON is a user's self-serve in the report.
type selfServeJSON struct {
	Enabled   bool     `json:"enabled"`
	Status    string   `json:"status"` // "", registration_complete, accessed_self_serve
	Active    bool     `json:"active"`
	Missing   []string `json:"missing,omitempty"` // tenant, email, mobile, locked
	LockedOut bool     `json:"locked_out"`
}

// selfServeSettingsJSON is "GET|PUT /api/v1/admin/directory/settings".
type selfServeSettingsJSON struct {
	Enabled    bool `json:"enabled"`
	NewUsersOn bool `json:"new_users_on"`
}

type matchContactJSON struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Emails []string `json:"emails,omitempty"`
	Phones []string `json:"phones,omitempty"` // masked
}

type matchJSON struct {
	GUID       string             `json:"guid"`
	SID        string             `json:"sid"`
	Account    string             `json:"account"`
	Name       string             `json:"name"`
	Emails     []string           `json:"emails,omitempty"`
	Enabled    bool               `json:"enabled"`
	Status     string             `json:"status"`
	Rule       string             `json:"rule,omitempty"`
	Candidates []matchContactJSON `json:"candidates,omitempty"`
	Decision   string             `json:"decision,omitempty"` // accepted, rejected
	SelfServe  selfServeJSON      `json:"selfserve"`
}

type matchReportJSON struct {
	Counts    map[string]int        `json:"counts"`
	SelfServe selfServeSettingsJSON `json:"selfserve"`
	// Total is the number of rows the filter keeps; Matches are those from
	// Offset on, at most the limit asked for.
	Total   int         `json:"total"`
	Offset  int         `json:"offset"`
	Matches []matchJSON `json:"matches"`
}

func contactJSONForMatch(c core.Contact) matchContactJSON {
	out := matchContactJSON{ID: c.ID, Name: c.Name()}
	for _, d := range c.Destinations {
		switch d.Kind {
		case core.DestEmail:
			out.Emails = append(out.Emails, d.Value)
		case core.DestPhone:
			out.Phones = append(out.Phones, d.Masked())
		}
	}
	return out
}

// matchFilter is the report's filter: a status ("" all) and text in the
// user's name, account or addresses, and the page of rows: from offset,
// at most limit (0: all).
type matchFilter struct {
	status, text  string
	offset, limit int
}

// maxMatchPage bounds one page of the report.
const maxMatchPage = 5000

func (f matchFilter) keep(m core.Match) bool {
	if f.status != "" && string(m.Status) != f.status {
		return false
	}
	if f.text == "" {
		return true
	}
	hay := strings.ToLower(strings.Join(append([]string{m.User.Name(), m.User.SAMAccountName, m.User.UPN}, m.User.Emails()...), " "))
	return strings.Contains(hay, f.text)
}

func parseMatchFilter(r *http.Request) (matchFilter, error) {
	q := r.URL.Query()
	f := matchFilter{status: q.Get("status"), text: strings.ToLower(strings.TrimSpace(q.Get("q")))}
	for _, p := range []struct {
		name string
		to   *int
		max  int
	}{{"offset", &f.offset, math.MaxInt32}, {"limit", &f.limit, maxMatchPage}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > p.max {
			return f, core.Errorf(core.KindInvalid, "%s must be a whole number from 0 to %d", p.name, p.max)
		}
		*p.to = n
	}
	switch core.MatchStatus(f.status) {
	case "", core.MatchMatched, core.MatchSuggested, core.MatchConflicting, core.MatchUnmatched:
		return f, nil
	}
	return f, core.Errorf(core.KindInvalid, "status must be matched, suggested, conflicting or unmatched")
}

func reportJSON(rep core.MatchReport, f matchFilter) matchReportJSON {
	out := matchReportJSON{Counts: map[string]int{
		"matched": rep.Counts.Matched, "suggested": rep.Counts.Suggested, "conflicting": rep.Counts.Conflicting,
		"unmatched": rep.Counts.Unmatched, "accepted": rep.Counts.Accepted,
		"selfserve_on": rep.Counts.SelfServeOn, "selfserve_active": rep.Counts.SelfServeActive,
	}, SelfServe: selfServeSettingsJSON{Enabled: rep.SelfServe.Enabled, NewUsersOn: rep.SelfServe.NewUsersOn},
		Offset: f.offset, Matches: []matchJSON{}}
	for _, m := range rep.Matches {
		if !f.keep(m) {
			continue
		}
		out.Total++
		if out.Total <= f.offset || (f.limit > 0 && len(out.Matches) >= f.limit) {
			continue
		}
		j := matchJSON{GUID: m.User.GUID, SID: m.User.SID, Account: m.User.SAMAccountName, Name: m.User.Name(),
			Emails: m.User.Emails(), Enabled: m.User.Enabled, Status: string(m.Status), Rule: string(m.Rule),
			Decision: string(m.Decision.State), SelfServe: selfServeJSON{Enabled: m.SelfServe.Enabled,
				Status: string(m.SelfServe.Status), Active: m.SelfServe.Active, Missing: m.SelfServe.Missing, LockedOut: m.SelfServe.LockedOut}}
		for _, id := range m.Candidates {
			j.Candidates = append(j.Candidates, contactJSONForMatch(rep.Contacts[id]))
		}
		out.Matches = append(out.Matches, j)
	}
	return out
}

// handleDirectoryMatches handles
// "GET /api/v1/clients/{id}/directory/matches?status=&q=&offset=&limit=".
func (s *Server) handleDirectoryMatches(w http.ResponseWriter, r *http.Request) {
	f, err := parseMatchFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	rep, err := s.engine.DirectoryMatches(r.Context(), tech.TenantID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reportJSON(rep, f))
}

type decideMatchesJSON struct {
	Choices []struct {
		GUID      string `json:"guid"`
		ContactID string `json:"contact_id"`
		Accept    bool   `json:"accept"`
	} `json:"choices"`
}

// handleDecideMatches handles "POST /api/v1/clients/{id}/directory/matches"
// (admins): accept or reject rows, one or many; all or none are recorded.
func (s *Server) handleDecideMatches(w http.ResponseWriter, r *http.Request) {
	var req decideMatchesJSON
	if err := decodeJSONMax(w, r, &req, 4<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	choices := make([]core.MatchChoice, len(req.Choices))
	for i, c := range req.Choices {
		choices[i] = core.MatchChoice{GUID: c.GUID, ContactID: c.ContactID, Accept: c.Accept}
	}
	tech := techFrom(r)
	if err := s.engine.DecideMatches(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"), choices); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type setSelfServeJSON struct {
	GUIDs   []string `json:"guids"`
	Enabled bool     `json:"enabled"`
}

// handleSetSelfServe handles "POST /api/v1/clients/{id}/directory/selfserve"
// (admins): the self-serve switch of one or many users on or off, all or
// none; the answer says how many changed.
func (s *Server) handleSetSelfServe(w http.ResponseWriter, r *http.Request) {
	var req setSelfServeJSON
	if err := decodeJSONMax(w, r, &req, 1<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	n, err := s.engine.SetSelfServe(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"), req.GUIDs, req.Enabled)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"changed": n})
}

// handleClearSelfServeLockout handles "DELETE
// /api/v1/clients/{id}/directory/selfserve/{guid}/lockout" (admins): the
// user may use the self-serve page again after too many wrong codes.
func (s *Server) handleClearSelfServeLockout(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	if err := s.engine.ClearSelfServeLockout(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"), pathVar(r, "guid")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleGetSelfServeSettings handles "GET /api/v1/admin/directory/settings".
func (s *Server) handleGetSelfServeSettings(w http.ResponseWriter, r *http.Request) {
	set, err := s.engine.SelfServeSettings(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, selfServeSettingsJSON{Enabled: set.Enabled, NewUsersOn: set.NewUsersOn})
}

// handlePutSelfServeSettings handles "PUT /api/v1/admin/directory/settings":
// the tenant-wide self-serve switch and the import-time choice.
func (s *Server) handlePutSelfServeSettings(w http.ResponseWriter, r *http.Request) {
	var req selfServeSettingsJSON
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	set, err := s.engine.PutSelfServeSettings(r.Context(), tech.TenantID, "tech:"+tech.ID,
		core.SelfServeSettings{Enabled: req.Enabled, NewUsersOn: req.NewUsersOn})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, selfServeSettingsJSON{Enabled: set.Enabled, NewUsersOn: set.NewUsersOn})
}

type sendWelcomeJSON struct {
	GUIDs []string `json:"guids"`
	// Pending: instead of GUIDs, the next round of the client's users
	// waiting for a welcome (see core.Engine.SendPendingWelcomes).
	Pending bool `json:"pending"`
}

// handleSendWelcome handles "POST /api/v1/clients/{id}/directory/welcome"
// (admins): the welcome e-mail to the chosen users, all or none; or, with
// "pending", to the next round of users waiting for one, answering how many
// are still waiting.
func (s *Server) handleSendWelcome(w http.ResponseWriter, r *http.Request) {
	var req sendWelcomeJSON
	if err := decodeJSONMax(w, r, &req, 1<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	actor := "tech:" + tech.ID
	if req.Pending {
		if len(req.GUIDs) > 0 {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "send either to the chosen users or to those waiting, not both"))
			return
		}
		n, waiting, err := s.engine.SendPendingWelcomes(r.Context(), tech.TenantID, actor, pathVar(r, "id"), core.MaxWelcomeRound)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"sent": n, "waiting": waiting})
		return
	}
	n, err := s.engine.SendWelcome(r.Context(), tech.TenantID, actor, pathVar(r, "id"), req.GUIDs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"sent": n})
}
