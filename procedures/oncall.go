package procedures

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/store"
)

// OnCallSpec is the people directory and the on-call schedules a scenario runs with
// (issue 11): they are written into the runner's private store before the run, so an
// escalation level naming schedules or people pages whoever is on call when it fires.
type OnCallSpec struct {
	People    []PersonSpec   `yaml:"people,omitempty"`
	Schedules []ScheduleSpec `yaml:"schedules,omitempty"`
}

// PersonSpec is one person of the directory (oncall.Person).
type PersonSpec struct {
	Name       string `yaml:"name"`
	Email      string `yaml:"email,omitempty"`
	SlackUser  string `yaml:"slack_user,omitempty"`
	ChatHandle string `yaml:"chat_handle,omitempty"`
	Phone      string `yaml:"phone,omitempty"`
	TimeZone   string `yaml:"time_zone,omitempty"`
	Role       string `yaml:"role,omitempty"`
}

// ScheduleSpec is one schedule: its layers (rotations) and overrides.
type ScheduleSpec struct {
	Name      string         `yaml:"name"`
	Layers    []LayerSpec    `yaml:"layers"`
	Overrides []OverrideSpec `yaml:"overrides,omitempty"`
}

// LayerSpec is one rotation (oncall.Layer).
type LayerSpec struct {
	People   []string  `yaml:"people"`
	Rotation string    `yaml:"rotation"`
	Every    int       `yaml:"every,omitempty"`
	Handoff  string    `yaml:"handoff"`
	TimeZone string    `yaml:"time_zone"`
	Start    time.Time `yaml:"start"`
}

// OverrideSpec puts Person in place of layer Layer's person (1-based, default 1) from
// From to To (oncall.Override).
type OverrideSpec struct {
	Layer  int       `yaml:"layer,omitempty"`
	Person string    `yaml:"person"`
	From   time.Time `yaml:"from"`
	To     time.Time `yaml:"to"`
}

func (p PersonSpec) person() oncall.Person {
	return oncall.Person{Name: p.Name, Email: p.Email, SlackUser: p.SlackUser, ChatHandle: p.ChatHandle,
		Phone: p.Phone, TimeZone: p.TimeZone, Role: auth.Role(p.Role)}
}

func (s ScheduleSpec) schedule() oncall.Schedule {
	sc := oncall.Schedule{Name: s.Name}
	for _, l := range s.Layers {
		sc.Layers = append(sc.Layers, oncall.Layer{People: l.People, Rotation: l.Rotation, Every: l.Every,
			Handoff: l.Handoff, TimeZone: l.TimeZone, Start: l.Start})
	}
	for i, o := range s.Overrides {
		layer := o.Layer
		if layer == 0 {
			layer = 1
		}
		sc.Overrides = append(sc.Overrides, oncall.Override{ID: fmt.Sprintf("scenario-%s-%d", s.Name, i+1),
			Layer: layer, Person: o.Person, From: o.From, To: o.To, CreatedBy: "scenario",
			// Later overrides win where they overlap, as when created one after another.
			CreatedAt: DefaultStart.Add(time.Duration(i) * time.Second)})
	}
	return sc
}

// validate checks the directory and schedules with the on-call package's own rules,
// naming the field at fault.
func (o *OnCallSpec) validate() error {
	if o == nil {
		return nil
	}
	var errs []error
	seen := map[string]bool{}
	for i, p := range o.People {
		pp := p.person()
		if err := pp.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("oncall.people[%d].%w", i, err))
		} else if seen[pp.Name] {
			errs = append(errs, fmt.Errorf("oncall.people[%d].name: %s is listed twice", i, pp.Name))
		}
		seen[pp.Name] = true
	}
	names := map[string]bool{}
	for i, s := range o.Schedules {
		sc := s.schedule()
		if err := sc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("oncall.schedules[%d].%w", i, err))
		} else if names[sc.Name] {
			errs = append(errs, fmt.Errorf("oncall.schedules[%d].name: %s is listed twice", i, sc.Name))
		}
		names[sc.Name] = true
	}
	return errors.Join(errs...)
}

// write stores the directory and schedules in the scenario's store.
func (o *OnCallSpec) write(ctx context.Context, st *store.Store) error {
	if o == nil {
		return nil
	}
	for _, p := range o.People {
		if err := st.InsertPerson(ctx, p.person()); err != nil {
			return fmt.Errorf("oncall.people %s: %w", p.Name, err)
		}
	}
	for _, s := range o.Schedules {
		sc := s.schedule()
		if err := st.InsertSchedule(ctx, sc); err != nil {
			return fmt.Errorf("oncall.schedules %s: %w", s.Name, err)
		}
		for _, ov := range sc.Overrides {
			if err := st.InsertOverride(ctx, sc.Name, ov); err != nil {
				return fmt.Errorf("oncall.schedules %s: %w", s.Name, err)
			}
		}
	}
	return nil
}
