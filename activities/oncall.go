package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// PagesInput asks who an escalation level pages at At: whoever the schedules have on
// call then, and the people named.
type PagesInput struct {
	Schedules []string  `json:"schedules,omitempty"`
	People    []string  `json:"people,omitempty"`
	At        time.Time `json:"at"`
}

// PageTarget is one person to page and why.
type PageTarget struct {
	// Via is "schedule NAME (layer N)" or "directly".
	Via     string          `json:"via"`
	Contact schemas.Contact `json:"contact"`
}

// PagesResult lists the people to page, each once, and what could not be resolved
// (a schedule or person not found), so that the timeline says so.
type PagesResult struct {
	Targets  []PageTarget `json:"targets,omitempty"`
	Problems []string     `json:"problems,omitempty"`
}

// ResolvePages asks the schedules and the directory who to page at in.At. Read-only, so
// a retry is harmless; the workflow records what it returned.
func (a *Activities) ResolvePages(ctx context.Context, in PagesInput) (PagesResult, error) {
	var res PagesResult
	seen := map[string]bool{}
	add := func(name, via string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		c := schemas.Contact{Name: name}
		p, err := a.Store.GetPerson(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			res.Problems = append(res.Problems, fmt.Sprintf("%s is not in the people directory: no channel of their own", name))
		case err != nil:
			return err
		default:
			c = schemas.Contact{Name: p.Name, Email: p.Email, SlackUser: p.SlackUser, ChatHandle: p.ChatHandle, Phone: p.Phone}
		}
		res.Targets = append(res.Targets, PageTarget{Via: via, Contact: c})
		return nil
	}
	for _, name := range in.Schedules {
		sc, err := a.Store.GetSchedule(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			res.Problems = append(res.Problems, fmt.Sprintf("schedule %s not found", name))
			continue
		}
		if err != nil {
			return res, err
		}
		on, err := sc.At(in.At)
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("schedule %s: %v", name, err))
			continue
		}
		for _, o := range on {
			via := fmt.Sprintf("schedule %s (layer %d)", name, o.Layer)
			if o.Override != "" {
				via = fmt.Sprintf("schedule %s (layer %d, override %s)", name, o.Layer, o.Override)
			}
			if err := add(o.Person, via); err != nil {
				return res, err
			}
		}
	}
	for _, name := range in.People {
		if err := add(name, "directly"); err != nil {
			return res, err
		}
	}
	return res, nil
}
