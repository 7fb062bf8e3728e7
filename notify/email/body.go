package email

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
)

// row is one labelled value of the body.
type row struct{ Name, Value string }

// view is what both bodies render.
type view struct {
	Subject    string
	Headline   string
	Text       string
	Rows       []row
	Dashboard  string
	TemporalUI string
	At         string
}

func newView(m notify.Message) view {
	headline := m.Kind.Label()
	if m.Actor != "" {
		headline += " by " + m.Actor
	}
	v := view{
		Subject:    Subject(m),
		Headline:   headline,
		Text:       m.Text,
		Dashboard:  m.Links.Dashboard,
		TemporalUI: m.Links.TemporalUI,
		At:         m.Time().UTC().Format(time.RFC1123),
	}
	for _, r := range []row{
		{"Incident", m.IncidentID}, {"Severity", strings.ToUpper(string(m.Severity))},
		{"Status", string(m.Status)}, {"Type", m.Type}, {"Source", m.Source}, {"Actor", m.Actor},
	} {
		if r.Value != "" {
			v.Rows = append(v.Rows, r)
		}
	}
	for _, f := range m.Fields {
		v.Rows = append(v.Rows, row{f.Name, f.Value})
	}
	return v
}

// TextBody renders m as the text/plain part.
func TextBody(m notify.Message) string {
	v := newView(m)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n\n", v.Subject, v.Headline)
	if v.Text != "" {
		fmt.Fprintf(&b, "%s\n\n", v.Text)
	}
	for _, r := range v.Rows {
		fmt.Fprintf(&b, "%s: %s\n", r.Name, r.Value)
	}
	b.WriteString("\n")
	if v.Dashboard != "" {
		fmt.Fprintf(&b, "Dashboard:   %s\n", v.Dashboard)
	}
	if v.TemporalUI != "" {
		fmt.Fprintf(&b, "Temporal UI: %s\n", v.TemporalUI)
	}
	fmt.Fprintf(&b, "At: %s\n\n-- \nMahavishnu Incident Response\n", v.At)
	return b.String()
}

var htmlTemplate = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif">
<h2>{{.Subject}}</h2>
<p><strong>{{.Headline}}</strong></p>
{{if .Text}}<p style="white-space: pre-wrap">{{.Text}}</p>{{end}}
<table cellpadding="4">
{{range .Rows}}<tr><th align="left">{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<p>{{if .Dashboard}}<a href="{{.Dashboard}}">Open the dashboard</a>{{end}}{{if and .Dashboard .TemporalUI}} · {{end}}{{if .TemporalUI}}<a href="{{.TemporalUI}}">Temporal workflow history</a>{{end}}</p>
<p style="color: #666">{{.At}} · Mahavishnu Incident Response</p>
</body></html>
`))

// HTMLBody renders m as the text/html part; every value is HTML-escaped.
func HTMLBody(m notify.Message) (string, error) {
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, newView(m)); err != nil {
		return "", fmt.Errorf("render html body: %w", err)
	}
	return b.String(), nil
}

// Subject is "[SEVERITY] title (incident ID)" on one line, the same for every kind so that
// mail clients thread an incident's messages together.
func Subject(m notify.Message) string { return notify.OneLine(m.Subject(), 250) }
