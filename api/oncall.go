package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/store"
)

// People and schedules (issue 11):
//
//	GET    /api/v1/people                       {"people": [person...]}
//	POST   /api/v1/people                       person -> 201 person
//	GET    /api/v1/people/{name}                person
//	PATCH  /api/v1/people/{name}                PersonPatch -> person
//	DELETE /api/v1/people/{name}                204
//	GET    /api/v1/schedules                    {"schedules": [schedule...]}
//	POST   /api/v1/schedules                    CreateScheduleRequest -> 201 schedule
//	GET    /api/v1/schedules/{name}             schedule; {name}.ics: the shifts as iCalendar
//	DELETE /api/v1/schedules/{name}             204
//	POST   /api/v1/schedules/{name}/layers      LayerRequest -> schedule
//	GET    /api/v1/schedules/{name}/oncall      ?at=RFC3339 -> WhoView
//	GET    /api/v1/schedules/{name}/shifts      ?from=&to= (default: now, 14 days) -> {"shifts": [...]}
//	GET    /api/v1/schedules/{name}/overrides   {"overrides": [...]}
//	POST   /api/v1/schedules/{name}/overrides   OverrideRequest -> 201 override
//	DELETE /api/v1/overrides/{id}               204
//	GET    /api/v1/oncall                       ?at=RFC3339 -> {"oncall": [WhoView...]} for every schedule

// PersonPatch changes some fields of a person; absent fields stay.
type PersonPatch struct {
	Email      *string `json:"email,omitempty"`
	SlackUser  *string `json:"slack_user,omitempty"`
	ChatHandle *string `json:"chat_handle,omitempty"`
	Phone      *string `json:"phone,omitempty"`
	TimeZone   *string `json:"time_zone,omitempty"`
	Role       *string `json:"role,omitempty"`
}

// LayerRequest describes one rotation layer.
type LayerRequest struct {
	People []string `json:"people"`
	// Rotation is daily or weekly; Every counts days or weeks (default 1).
	Rotation string `json:"rotation"`
	Every    int    `json:"every,omitempty"`
	// Handoff is "mon 09:00" (weekly) or "09:00" (daily), in TimeZone.
	Handoff  string `json:"handoff"`
	TimeZone string `json:"time_zone"`
	// Start anchors the rotation: the turn that contains it is People[0]'s (default: now).
	Start *time.Time `json:"start,omitempty"`
}

// CreateScheduleRequest is the body of POST /api/v1/schedules.
type CreateScheduleRequest struct {
	Name  string       `json:"name"`
	Layer LayerRequest `json:"layer"`
}

// OverrideRequest is the body of POST /api/v1/schedules/{name}/overrides.
type OverrideRequest struct {
	Person string    `json:"person"`
	Layer  int       `json:"layer,omitempty"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// CreatedBy names who creates it.
	CreatedBy string `json:"created_by"`
}

// WhoView is who a schedule has on call at a moment.
type WhoView struct {
	Schedule string          `json:"schedule"`
	At       time.Time       `json:"at"`
	OnCall   []oncall.OnCall `json:"oncall"`
}

func (l LayerRequest) layer(now time.Time) oncall.Layer {
	start := now
	if l.Start != nil {
		start = *l.Start
	}
	return oncall.Layer{People: l.People, Rotation: strings.ToLower(strings.TrimSpace(l.Rotation)), Every: l.Every,
		Handoff: strings.TrimSpace(l.Handoff), TimeZone: strings.TrimSpace(l.TimeZone), Start: start.UTC()}
}

// oncallError maps store errors to answers naming what was not found.
func oncallError(what string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &httpError{status: http.StatusNotFound, msg: what + " not found"}
	case errors.Is(err, store.ErrExists):
		return &httpError{status: http.StatusConflict, msg: what + " exists already"}
	}
	return err
}

// validationError marks a definition's own validation failure as a 400.
func validationError(what string, err error) error {
	if err == nil {
		return nil
	}
	return badRequest("%s: %s", what, err)
}

func (s *Server) listPeople(w http.ResponseWriter, r *http.Request) error {
	list, err := s.m.Store().People(r.Context(), nil)
	if err != nil {
		return err
	}
	if list == nil {
		list = []oncall.Person{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"people": list})
	return nil
}

func (s *Server) getPerson(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	p, err := s.m.Store().GetPerson(r.Context(), name)
	if err != nil {
		return oncallError("person "+name, err)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) createPerson(w http.ResponseWriter, r *http.Request) error {
	var p oncall.Person
	if err := decodeBody(w, r, &p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return validationError("person", err)
	}
	if err := s.m.Store().InsertPerson(r.Context(), p); err != nil {
		return oncallError("person "+p.Name, err)
	}
	stored, err := s.m.Store().GetPerson(r.Context(), p.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, stored)
	return nil
}

func (s *Server) updatePerson(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var patch PersonPatch
	if err := decodeBody(w, r, &patch); err != nil {
		return err
	}
	p, err := s.m.Store().GetPerson(r.Context(), name)
	if err != nil {
		return oncallError("person "+name, err)
	}
	for _, f := range []struct {
		v   *string
		dst *string
	}{{patch.Email, &p.Email}, {patch.SlackUser, &p.SlackUser}, {patch.ChatHandle, &p.ChatHandle},
		{patch.Phone, &p.Phone}, {patch.TimeZone, &p.TimeZone}} {
		if f.v != nil {
			*f.dst = strings.TrimSpace(*f.v)
		}
	}
	if patch.Role != nil {
		p.Role = auth.Role(*patch.Role)
	}
	if err := p.Validate(); err != nil {
		return validationError("person", err)
	}
	if err := s.m.Store().UpdatePerson(r.Context(), *p); err != nil {
		return oncallError("person "+name, err)
	}
	p, err = s.m.Store().GetPerson(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) deletePerson(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.m.Store().DeletePerson(r.Context(), name); err != nil {
		return oncallError("person "+name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	list, err := s.m.Store().Schedules(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []oncall.Schedule{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": list})
	return nil
}

// checkPeople makes sure every person a layer or override names is in the directory.
func (s *Server) checkPeople(r *http.Request, field string, names []string) error {
	found, err := s.m.Store().People(r.Context(), names)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, p := range found {
		have[p.Name] = true
	}
	for i, n := range names {
		if !have[n] {
			return badRequest("%s[%d]: person %q is not in the directory (add them with `mahavishnu people add %s`)", field, i, n, n)
		}
	}
	return nil
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) error {
	var req CreateScheduleRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	sc := oncall.Schedule{Name: strings.TrimSpace(req.Name), Layers: []oncall.Layer{req.Layer.layer(time.Now())}}
	if strings.HasSuffix(sc.Name, ".ics") {
		return badRequest("name: must not end in .ics")
	}
	if err := sc.Validate(); err != nil {
		return validationError("schedule", err)
	}
	if err := s.checkPeople(r, "layer.people", sc.Layers[0].People); err != nil {
		return err
	}
	if err := s.m.Store().InsertSchedule(r.Context(), sc); err != nil {
		return oncallError("schedule "+sc.Name, err)
	}
	stored, err := s.m.Store().GetSchedule(r.Context(), sc.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, stored)
	return nil
}

func (s *Server) addLayer(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req LayerRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	l := req.layer(time.Now())
	if err := l.Validate(); err != nil {
		return validationError("layer", err)
	}
	if err := s.checkPeople(r, "people", l.People); err != nil {
		return err
	}
	sc, err := s.m.Store().AddLayer(r.Context(), name, l)
	if err != nil {
		return oncallError("schedule "+name, err)
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if base, ok := strings.CutSuffix(name, ".ics"); ok {
		return s.scheduleICS(w, r, base)
	}
	sc, err := s.m.Store().GetSchedule(r.Context(), name)
	if err != nil {
		return oncallError("schedule "+name, err)
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.m.Store().DeleteSchedule(r.Context(), name); err != nil {
		return oncallError("schedule "+name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, badRequest("%s: want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", name, v)
	}
	return t, nil
}

func (s *Server) whoOnCall(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	at, err := timeParam(r, "at", time.Now())
	if err != nil {
		return err
	}
	sc, err := s.m.Store().GetSchedule(r.Context(), name)
	if err != nil {
		return oncallError("schedule "+name, err)
	}
	on, err := sc.At(at)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, WhoView{Schedule: sc.Name, At: at.UTC(), OnCall: on})
	return nil
}

func (s *Server) whoOnCallAll(w http.ResponseWriter, r *http.Request) error {
	at, err := timeParam(r, "at", time.Now())
	if err != nil {
		return err
	}
	list, err := s.m.Store().Schedules(r.Context())
	if err != nil {
		return err
	}
	out := []WhoView{}
	for i := range list {
		on, err := list[i].At(at)
		if err != nil {
			return err
		}
		out = append(out, WhoView{Schedule: list[i].Name, At: at.UTC(), OnCall: on})
	}
	writeJSON(w, http.StatusOK, map[string]any{"oncall": out})
	return nil
}

func (s *Server) scheduleShifts(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	from, err := timeParam(r, "from", time.Now())
	if err != nil {
		return err
	}
	to, err := timeParam(r, "to", from.Add(14*24*time.Hour))
	if err != nil {
		return err
	}
	sc, err := s.m.Store().GetSchedule(r.Context(), name)
	if err != nil {
		return oncallError("schedule "+name, err)
	}
	shifts, err := sc.Shifts(from, to)
	if err != nil {
		return badRequest("%s", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"shifts": shifts})
	return nil
}

func (s *Server) listOverrides(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	sc, err := s.m.Store().GetSchedule(r.Context(), name)
	if err != nil {
		return oncallError("schedule "+name, err)
	}
	list := sc.Overrides
	if list == nil {
		list = []oncall.Override{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"overrides": list})
	return nil
}

func newOverrideID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ovr_" + hex.EncodeToString(b)
}

func (s *Server) createOverride(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req OverrideRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	by, err := actor(r.Context(), req.CreatedBy)
	if err != nil {
		return err
	}
	if req.Layer == 0 {
		req.Layer = 1
	}
	o := oncall.Override{ID: newOverrideID(), Layer: req.Layer, Person: strings.TrimSpace(req.Person), From: req.From.UTC(),
		To: req.To.UTC(), CreatedBy: by, CreatedAt: time.Now().UTC()}
	sc, err := s.m.Store().GetSchedule(r.Context(), name)
	if err != nil {
		return oncallError("schedule "+name, err)
	}
	if err := sc.ValidateOverride(o); err != nil {
		return validationError("override", err)
	}
	if err := s.checkPeople(r, "person", []string{o.Person}); err != nil {
		return err
	}
	if err := s.m.Store().InsertOverride(r.Context(), name, o); err != nil {
		return oncallError("schedule "+name, err)
	}
	writeJSON(w, http.StatusCreated, o)
	return nil
}

func (s *Server) deleteOverride(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.m.Store().DeleteOverride(r.Context(), id); err != nil {
		return oncallError("override "+id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// icsPast and icsFuture bound the shifts a calendar feed carries.
const (
	icsPast   = 7 * 24 * time.Hour
	icsFuture = 90 * 24 * time.Hour
)

// scheduleICS serves a schedule's shifts as an iCalendar feed, one event per shift, so
// that people can subscribe in their calendar app.
func (s *Server) scheduleICS(w http.ResponseWriter, r *http.Request, name string) error {
	sc, err := s.m.Store().GetSchedule(r.Context(), name)
	if err != nil {
		return oncallError("schedule "+name, err)
	}
	now := time.Now().UTC()
	shifts, err := sc.Shifts(now.Add(-icsPast).Truncate(time.Hour), now.Add(icsFuture))
	if err != nil {
		return err
	}
	cal := ics.NewCalendar()
	cal.SetMethod(ics.MethodPublish)
	cal.SetProductId("-//Mahavishnu//On call//EN")
	cal.SetName("On call: " + sc.Name)
	for _, sh := range shifts {
		uid := fmt.Sprintf("%s-%d-%s-%s@mahavishnu", sc.Name, sh.Layer, sh.Start.UTC().Format("20060102T150405Z"), sh.Person)
		ev := cal.AddEvent(uid)
		ev.SetDtStampTime(now)
		ev.SetStartAt(sh.Start.UTC())
		ev.SetEndAt(sh.End.UTC())
		summary := fmt.Sprintf("On call: %s (%s, layer %d)", sh.Person, sc.Name, sh.Layer)
		if sh.Override != "" {
			summary += " (override)"
		}
		ev.SetSummary(summary)
		ev.SetDescription(fmt.Sprintf("%s is on call for schedule %s, layer %d.", sh.Person, sc.Name, sh.Layer))
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", sc.Name+".ics"))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(cal.Serialize()))
	return err
}
