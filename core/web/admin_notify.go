package web

import (
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The On call page's API (issue 18 item 5): notification groups, their
// users with the ways to reach them and their schedule rules, the zone the
// rules are read in, and the Test view (who is on call at a moment, and
// each user's periods in a window). Admins only; the engine audits every
// change.

func (s *Server) registerAdminNotifyRoutes(a *mux.Router) {
	a.HandleFunc("/notify", s.handleNotifyGroups).Methods(http.MethodGet)
	a.HandleFunc("/notify/timezone", s.handleNotifyTimeZone).Methods(http.MethodPut)
	a.HandleFunc("/notify/test", s.handleOnCallTest).Methods(http.MethodGet)
	a.HandleFunc("/notify/groups", s.handleCreateNotifyGroup).Methods(http.MethodPost)
	a.HandleFunc("/notify/groups/{id}", s.handleUpdateNotifyGroup).Methods(http.MethodPut)
	a.HandleFunc("/notify/groups/{id}", s.handleDeleteNotifyGroup).Methods(http.MethodDelete)
	a.HandleFunc("/notify/groups/{id}/users", s.handleAddNotifyUser).Methods(http.MethodPost)
	a.HandleFunc("/notify/groups/{id}/technicians", s.handleCloneTechnician).Methods(http.MethodPost)
	a.HandleFunc("/notify/members", s.handleNotifyPSAMembers).Methods(http.MethodGet)
	a.HandleFunc("/notify/groups/{id}/members", s.handleClonePSAMember).Methods(http.MethodPost)
	a.HandleFunc("/notify/users/{id}", s.handleUpdateNotifyUser).Methods(http.MethodPut)
	a.HandleFunc("/notify/users/{id}", s.handleRemoveNotifyUser).Methods(http.MethodDelete)
}

type notifyGroupJSON struct {
	ID     string             `json:"id,omitempty"`
	Name   string             `json:"name"`
	Events []core.NotifyEvent `json:"events"`
	Users  []notifyUserJSON   `json:"users"`
}

type notifyUserJSON struct {
	ID       string        `json:"id,omitempty"`
	GroupID  string        `json:"group_id,omitempty"`
	Name     string        `json:"name"`
	Email    string        `json:"email"`
	SMS      string        `json:"sms"`
	Voice    string        `json:"voice"`
	ByEmail  bool          `json:"by_email"`
	BySMS    bool          `json:"by_sms"`
	ByVoice  bool          `json:"by_voice"`
	Source   string        `json:"source,omitempty"`
	Schedule core.Schedule `json:"schedule"`
}

func notifyUserOut(u core.NotifyUser) notifyUserJSON {
	sch := u.Schedule
	if sch == nil {
		sch = core.Schedule{}
	}
	return notifyUserJSON{ID: u.ID, GroupID: u.GroupID, Name: u.Name, Email: u.Email, SMS: u.SMS, Voice: u.Voice,
		ByEmail: u.ByEmail, BySMS: u.BySMS, ByVoice: u.ByVoice, Source: u.Source, Schedule: sch}
}

func (in notifyUserJSON) user() core.NotifyUser {
	return core.NotifyUser{ID: in.ID, GroupID: in.GroupID, Name: in.Name, Email: in.Email, SMS: in.SMS, Voice: in.Voice,
		ByEmail: in.ByEmail, BySMS: in.BySMS, ByVoice: in.ByVoice, Schedule: in.Schedule}
}

func notifyGroupOut(g core.NotifyGroup, users []core.NotifyUser) notifyGroupJSON {
	out := notifyGroupJSON{ID: g.ID, Name: g.Name, Events: g.Events, Users: []notifyUserJSON{}}
	if out.Events == nil {
		out.Events = []core.NotifyEvent{}
	}
	for _, u := range users {
		out.Users = append(out.Users, notifyUserOut(u))
	}
	return out
}

// handleNotifyGroups handles "GET /api/v1/admin/notify": the groups with
// their users, the events a group can want (with their labels) and the
// time zone the schedules are read in.
func (s *Server) handleNotifyGroups(w http.ResponseWriter, r *http.Request) {
	groups, zone, err := s.engine.NotifyGroups(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]notifyGroupJSON, 0, len(groups))
	for _, g := range groups {
		out = append(out, notifyGroupOut(g.NotifyGroup, g.Users))
	}
	events := make([]map[string]string, 0, len(core.NotifyEvents))
	for _, ev := range core.NotifyEvents {
		events = append(events, map[string]string{"id": string(ev), "label": ev.Label()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out, "events": events, "time_zone": zone})
}

// handleNotifyTimeZone handles "PUT /api/v1/admin/notify/timezone".
func (s *Server) handleNotifyTimeZone(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TimeZone string `json:"time_zone"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.engine.SetNotifyTimeZone(r.Context(), techFrom(r), in.TimeZone); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"time_zone": in.TimeZone})
}

// handleCreateNotifyGroup handles "POST /api/v1/admin/notify/groups".
func (s *Server) handleCreateNotifyGroup(w http.ResponseWriter, r *http.Request) {
	var in notifyGroupJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.engine.CreateNotifyGroup(r.Context(), techFrom(r), core.NotifyGroup{Name: in.Name, Events: in.Events})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, notifyGroupOut(g, nil))
}

// handleUpdateNotifyGroup handles "PUT /api/v1/admin/notify/groups/{id}":
// its name and events.
func (s *Server) handleUpdateNotifyGroup(w http.ResponseWriter, r *http.Request) {
	var in notifyGroupJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.engine.UpdateNotifyGroup(r.Context(), techFrom(r), core.NotifyGroup{ID: pathVar(r, "id"), Name: in.Name, Events: in.Events})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, notifyGroupOut(g, nil))
}

// handleDeleteNotifyGroup handles "DELETE /api/v1/admin/notify/groups/{id}",
// with its users.
func (s *Server) handleDeleteNotifyGroup(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.DeleteNotifyGroup(r.Context(), techFrom(r), pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAddNotifyUser handles "POST /api/v1/admin/notify/groups/{id}/users":
// a notification user added by hand.
func (s *Server) handleAddNotifyUser(w http.ResponseWriter, r *http.Request) {
	var in notifyUserJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u := in.user()
	u.ID, u.GroupID = "", pathVar(r, "id")
	u, err := s.engine.AddNotifyUser(r.Context(), techFrom(r), u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, notifyUserOut(u))
}

// handleCloneTechnician handles "POST
// /api/v1/admin/notify/groups/{id}/technicians": a technician copied into
// the group as a notification user (a copy: later changes to the
// technician do not follow).
func (s *Server) handleCloneTechnician(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TechnicianID string `json:"technician_id"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.engine.CloneTechnician(r.Context(), techFrom(r), pathVar(r, "id"), in.TechnicianID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, notifyUserOut(u))
}

// handleUpdateNotifyUser handles "PUT /api/v1/admin/notify/users/{id}": the
// user's name, ways and schedule rules.
func (s *Server) handleUpdateNotifyUser(w http.ResponseWriter, r *http.Request) {
	var in notifyUserJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u := in.user()
	u.ID = pathVar(r, "id")
	u, err := s.engine.UpdateNotifyUser(r.Context(), techFrom(r), u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, notifyUserOut(u))
}

// handleRemoveNotifyUser handles "DELETE /api/v1/admin/notify/users/{id}".
func (s *Server) handleRemoveNotifyUser(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.RemoveNotifyUser(r.Context(), techFrom(r), pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleOnCallTest handles "GET /api/v1/admin/notify/test?at=&from=&to=":
// who is on call at `at` (default now) and each user's periods in
// [from, to) (default the 7 days from `at`), RFC 3339 or local times of
// the schedules' zone.
func (s *Server) handleOnCallTest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	at := s.engine.Now()
	// A time without an offset (what a datetime-local field sends) is
	// read in the schedules' zone, as the rules are.
	var zone *time.Location
	read := func(name string, def time.Time) (time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		if zone == nil {
			_, name, err := s.engine.NotifyGroups(r.Context(), techFrom(r).TenantID)
			if err != nil {
				return time.Time{}, err
			}
			if zone, err = core.LoadTimeZone(name); err != nil {
				return time.Time{}, err
			}
		}
		t, err := time.ParseInLocation("2006-01-02T15:04", v, zone)
		if err != nil {
			return time.Time{}, core.Errorf(core.KindInvalid, "%s must be a time like 2026-11-02T09:00 (in the schedules' zone) or 2026-11-02T09:00:00Z", name)
		}
		return t, nil
	}
	var err error
	if at, err = read("at", at); err != nil {
		s.writeError(w, r, err)
		return
	}
	from, err := read("from", at)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	to, err := read("to", from.Add(7*24*time.Hour))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	groups, loc, err := s.engine.OnCallTest(r.Context(), techFrom(r).TenantID, at, from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type userOut struct {
		ID      string        `json:"id"`
		Name    string        `json:"name"`
		Active  bool          `json:"active"`
		Periods []core.Period `json:"periods"`
	}
	type groupOut struct {
		ID     string             `json:"id"`
		Name   string             `json:"name"`
		Events []core.NotifyEvent `json:"events"`
		Users  []userOut          `json:"users"`
	}
	out := make([]groupOut, 0, len(groups))
	for _, g := range groups {
		og := groupOut{ID: g.Group.ID, Name: g.Group.Name, Events: g.Group.Events, Users: []userOut{}}
		for _, u := range g.Users {
			ps := make([]core.Period, 0, len(u.Periods))
			for _, p := range u.Periods {
				ps = append(ps, core.Period{Start: p.Start.In(loc), End: p.End.In(loc)})
			}
			og.Users = append(og.Users, userOut{ID: u.User.ID, Name: u.User.Name, Active: u.Active, Periods: ps})
		}
		out = append(out, og)
	}
	writeJSON(w, http.StatusOK, map[string]any{"at": at.In(loc), "from": from.In(loc), "to": to.In(loc), "time_zone": loc.String(), "groups": out})
}
