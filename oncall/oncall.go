// Package oncall answers who is on call: people, schedules made of rotation layers and
// overrides, in named time zones. It is pure Go (no store, no Temporal): the store keeps
// the definitions and the workflow asks through an activity at the moment a level fires.
//
// A schedule's layers are on call at the same time: layer 1 is usually the primary, layer
// 2 the secondary. Each layer hands off from one person to the next every N days or weeks
// at a local time of day in its zone, so a handoff at "mon 09:00" Europe/Berlin stays at
// 09:00 across daylight-saving changes. An override puts a person in place of one layer's
// person from one instant to another; where overrides of the same layer overlap, the one
// created last wins.
package oncall

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones work on machines without a zoneinfo database

	"github.com/mahavishnu/mahavishnu/auth"
)

// Person is one responder. Name is the identity tokens are issued to.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	// SlackUser is the Slack member ID (U123...), used to mention the person.
	SlackUser string `json:"slack_user,omitempty"`
	// ChatHandle is the Teams or Mattermost handle.
	ChatHandle string `json:"chat_handle,omitempty"`
	// Phone is for a webhook-based SMS or voice provider.
	Phone    string    `json:"phone,omitempty"`
	TimeZone string    `json:"time_zone,omitempty"`
	Role     auth.Role `json:"role"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks a person, naming the field at fault, and sets the default role.
func (p *Person) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	if err := ValidName("name", p.Name); err != nil {
		return err
	}
	if p.Role == "" {
		p.Role = auth.Responder
	}
	r, err := auth.ParseRole(string(p.Role))
	if err != nil {
		return fmt.Errorf("role: %w", err)
	}
	p.Role = r
	if p.Email != "" && (!strings.Contains(p.Email, "@") || strings.ContainsAny(p.Email, " \t\r\n<>,")) {
		return fmt.Errorf("email: %q is not an email address", p.Email)
	}
	if p.SlackUser != "" && !validSlackUser(p.SlackUser) {
		return fmt.Errorf("slack_user: %q is not a Slack member ID (U or W followed by letters and digits)", p.SlackUser)
	}
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil {
			return fmt.Errorf("time_zone: unknown zone %q", p.TimeZone)
		}
	}
	if strings.ContainsAny(p.Phone, "\r\n") {
		return errors.New("phone: must be one line")
	}
	return nil
}

func validSlackUser(s string) bool {
	if len(s) < 2 || len(s) > 32 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ValidName checks a name of a person, schedule or heartbeat: 1-64 letters, digits, '.',
// '_', '-' or '@', starting with a letter or digit (it appears in URLs).
func ValidName(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s: is required", field)
	}
	if len(s) > 64 {
		return fmt.Errorf("%s: at most 64 characters", field)
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || (i > 0 && strings.ContainsRune("._-@", c))
		if !ok {
			return fmt.Errorf("%s: %q may hold only letters, digits, '.', '_', '-' and '@', starting with a letter or digit", field, s)
		}
	}
	return nil
}

// Rotation kinds.
const (
	Daily  = "daily"
	Weekly = "weekly"
)

// Layer is one rotation: People take turns, handing off every Every days (daily) or
// weeks (weekly) at Handoff in TimeZone. Start anchors the turns: the shift that contains
// Start belongs to People[0].
type Layer struct {
	People   []string `json:"people"`
	Rotation string   `json:"rotation"`
	Every    int      `json:"every"`
	// Handoff is "mon 09:00" for a weekly rotation, "09:00" for a daily one.
	Handoff  string    `json:"handoff"`
	TimeZone string    `json:"time_zone"`
	Start    time.Time `json:"start"`
}

// Override puts Person in place of layer Layer's person (1-based) from From to To.
type Override struct {
	ID        string    `json:"id"`
	Layer     int       `json:"layer"`
	Person    string    `json:"person"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Schedule is a named set of layers and their overrides.
type Schedule struct {
	Name      string     `json:"name"`
	Layers    []Layer    `json:"layers"`
	Overrides []Override `json:"overrides,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Validate checks a layer, naming the field at fault, and fills in Every (1).
func (l *Layer) Validate() error {
	if len(l.People) == 0 {
		return errors.New("people: at least one person is required")
	}
	for i, p := range l.People {
		if err := ValidName(fmt.Sprintf("people[%d]", i), p); err != nil {
			return err
		}
	}
	if l.Every == 0 {
		l.Every = 1
	}
	if l.Every < 0 || l.Every > 52 {
		return fmt.Errorf("every: want 1 to 52, got %d", l.Every)
	}
	if l.Rotation != Daily && l.Rotation != Weekly {
		return fmt.Errorf("rotation: want daily or weekly, got %q", l.Rotation)
	}
	if _, err := time.LoadLocation(l.TimeZone); err != nil || l.TimeZone == "" {
		return fmt.Errorf("time_zone: unknown zone %q", l.TimeZone)
	}
	if _, _, _, err := parseHandoff(l.Rotation, l.Handoff); err != nil {
		return fmt.Errorf("handoff: %w", err)
	}
	if l.Start.IsZero() {
		return errors.New("start: is required")
	}
	return nil
}

// Validate checks the schedule and its layers and overrides.
func (s *Schedule) Validate() error {
	if err := ValidName("name", s.Name); err != nil {
		return err
	}
	if len(s.Layers) == 0 {
		return errors.New("layers: at least one layer is required")
	}
	for i := range s.Layers {
		if err := s.Layers[i].Validate(); err != nil {
			return fmt.Errorf("layers[%d].%w", i, err)
		}
	}
	for i := range s.Overrides {
		if err := s.ValidateOverride(s.Overrides[i]); err != nil {
			return fmt.Errorf("overrides[%d].%w", i, err)
		}
	}
	return nil
}

// ValidateOverride checks an override against the schedule.
func (s *Schedule) ValidateOverride(o Override) error {
	if err := ValidName("person", o.Person); err != nil {
		return err
	}
	if o.Layer < 1 || o.Layer > len(s.Layers) {
		return fmt.Errorf("layer: schedule %s has layers 1 to %d, got %d", s.Name, len(s.Layers), o.Layer)
	}
	if o.From.IsZero() || o.To.IsZero() {
		return errors.New("from: and to are required")
	}
	if !o.To.After(o.From) {
		return errors.New("to: must be after from")
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// parseHandoff reads "mon 09:00" (weekly) or "09:00" (daily; a weekday is an error).
func parseHandoff(rotation, s string) (wd time.Weekday, hour, minute int, err error) {
	f := strings.Fields(strings.ToLower(s))
	clock := ""
	switch {
	case rotation == Weekly && len(f) == 2:
		d, ok := weekdays[f[0][:min(3, len(f[0]))]]
		if !ok || (len(f[0]) > 3 && strings.ToLower(d.String()) != f[0]) {
			return 0, 0, 0, fmt.Errorf("unknown weekday %q (want mon, tue, ...)", f[0])
		}
		wd, clock = d, f[1]
	case rotation == Daily && len(f) == 1:
		clock = f[0]
	case rotation == Weekly:
		return 0, 0, 0, fmt.Errorf("want a weekday and a time such as \"mon 09:00\", got %q", s)
	default:
		return 0, 0, 0, fmt.Errorf("want a time such as \"09:00\", got %q", s)
	}
	h, m, ok := strings.Cut(clock, ":")
	hour, err1 := strconv.Atoi(h)
	minute, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hour < 0 || hour > 23 || minute < 0 || minute > 59 || len(m) != 2 {
		return 0, 0, 0, fmt.Errorf("want a time of day HH:MM, got %q", clock)
	}
	return wd, hour, minute, nil
}

// rotation is a validated layer ready to compute with.
type rotation struct {
	people []string
	loc    *time.Location
	// days is the length of a turn in calendar days.
	days int
	// y, m, d is the local date of the handoff that starts turn 0; hour, minute its time.
	y            int
	m            time.Month
	d            int
	hour, minute int
}

func newRotation(l Layer) (*rotation, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	loc, _ := time.LoadLocation(l.TimeZone)
	wd, hour, minute, _ := parseHandoff(l.Rotation, l.Handoff)
	r := &rotation{people: l.People, loc: loc, days: l.Every, hour: hour, minute: minute}
	start := l.Start.In(loc)
	y, m, d := start.Date()
	if l.Rotation == Weekly {
		r.days = 7 * l.Every
		back := (int(start.Weekday()) - int(wd) + 7) % 7
		d -= back
	}
	// The handoff on or before Start begins turn 0.
	first := time.Date(y, m, d, hour, minute, 0, 0, loc)
	if first.After(l.Start) {
		if l.Rotation == Weekly {
			d -= 7
		} else {
			d--
		}
		first = time.Date(y, m, d, hour, minute, 0, 0, loc)
	}
	r.y, r.m, r.d = first.Date()
	return r, nil
}

// boundary is the instant turn k starts. Local dates are added as calendar days, so a
// handoff keeps its wall-clock time across daylight-saving changes.
func (r *rotation) boundary(k int) time.Time {
	return time.Date(r.y, r.m, r.d+k*r.days, r.hour, r.minute, 0, 0, r.loc)
}

// turn is the index of the turn that contains t.
func (r *rotation) turn(t time.Time) int {
	lt := t.In(r.loc)
	ly, lm, ld := lt.Date()
	days := int(time.Date(ly, lm, ld, 12, 0, 0, 0, time.UTC).Sub(time.Date(r.y, r.m, r.d, 12, 0, 0, 0, time.UTC)).Hours() / 24)
	k := floorDiv(days, r.days)
	for r.boundary(k).After(t) {
		k--
	}
	for !r.boundary(k + 1).After(t) {
		k++
	}
	return k
}

func (r *rotation) personOf(k int) string {
	n := len(r.people)
	return r.people[((k%n)+n)%n]
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// OnCall is who one layer has on call at a moment.
type OnCall struct {
	// Layer is 1-based.
	Layer  int    `json:"layer"`
	Person string `json:"person"`
	// Override is the ID of the override in force ("" when the rotation's person is on).
	Override string    `json:"override,omitempty"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
}

// At returns who is on call at t, one entry per layer.
func (s *Schedule) At(t time.Time) ([]OnCall, error) {
	rots, err := s.rotations()
	if err != nil {
		return nil, err
	}
	out := make([]OnCall, len(rots))
	for i, r := range rots {
		out[i] = s.at(i+1, r, t)
	}
	return out, nil
}

// People returns the distinct people on call at t, layer 1's first.
func (s *Schedule) People(t time.Time) ([]string, error) {
	on, err := s.At(t)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range on {
		if !slices.Contains(out, o.Person) {
			out = append(out, o.Person)
		}
	}
	return out, nil
}

func (s *Schedule) rotations() ([]*rotation, error) {
	if len(s.Layers) == 0 {
		return nil, fmt.Errorf("schedule %s has no layers", s.Name)
	}
	rots := make([]*rotation, len(s.Layers))
	for i, l := range s.Layers {
		r, err := newRotation(l)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: layers[%d].%w", s.Name, i, err)
		}
		rots[i] = r
	}
	return rots, nil
}

// override returns the override of layer in force at t: among those covering t, the
// one created last (the later ID on a tie).
func (s *Schedule) override(layer int, t time.Time) *Override {
	var best *Override
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if o.Layer != layer || t.Before(o.From) || !t.Before(o.To) {
			continue
		}
		if best == nil || o.CreatedAt.After(best.CreatedAt) || (o.CreatedAt.Equal(best.CreatedAt) && o.ID > best.ID) {
			best = o
		}
	}
	return best
}

func (s *Schedule) at(layer int, r *rotation, t time.Time) OnCall {
	k := r.turn(t)
	oc := OnCall{Layer: layer, Person: r.personOf(k), Since: r.boundary(k), Until: r.boundary(k + 1)}
	// Shorten [Since, Until) to the stretch around t where the same override (or none)
	// is in force.
	cur := s.override(layer, t)
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if o.Layer != layer {
			continue
		}
		for _, edge := range []time.Time{o.From, o.To} {
			if edge.After(t) && edge.Before(oc.Until) {
				oc.Until = edge
			}
			if !edge.After(t) && edge.After(oc.Since) {
				oc.Since = edge
			}
		}
	}
	if cur != nil {
		oc.Person, oc.Override = cur.Person, cur.ID
	}
	return oc
}

// Shift is one stretch of one layer with the same person on call.
type Shift struct {
	Layer    int       `json:"layer"`
	Person   string    `json:"person"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Override string    `json:"override,omitempty"`
}

// maxShifts bounds one Shifts answer.
const maxShifts = 10000

// Shifts returns the shifts between from and to, by layer then time; the first and last
// of each layer are cut to [from, to). Adjacent stretches of the same person and override
// are one shift.
func (s *Schedule) Shifts(from, to time.Time) ([]Shift, error) {
	if !to.After(from) {
		return nil, errors.New("to: must be after from")
	}
	rots, err := s.rotations()
	if err != nil {
		return nil, err
	}
	var out []Shift
	for i, r := range rots {
		layer := i + 1
		first := len(out)
		for t := from; t.Before(to); {
			oc := s.at(layer, r, t)
			end := oc.Until
			if end.After(to) {
				end = to
			}
			if n := len(out); n > first && out[n-1].Person == oc.Person && out[n-1].Override == oc.Override {
				out[n-1].End = end
			} else {
				out = append(out, Shift{Layer: layer, Person: oc.Person, Start: t, End: end, Override: oc.Override})
			}
			if len(out) > maxShifts {
				return nil, fmt.Errorf("more than %d shifts between %s and %s: ask for a shorter range", maxShifts, from, to)
			}
			t = end
		}
	}
	return out, nil
}
