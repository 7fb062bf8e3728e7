package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// IncidentExport is the JSON download of one incident from the dashboard.
type IncidentExport struct {
	Incident    schemas.Incident        `json:"incident"`
	Timeline    []schemas.TimelineEntry `json:"timeline"`
	Actions     []schemas.ActionRecord  `json:"actions"`
	TemporalURL string                  `json:"temporal_url,omitempty"`
	PostMortem  string                  `json:"postmortem,omitempty"`
	ExportedAt  time.Time               `json:"exported_at"`
}

func attachment(w http.ResponseWriter, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
}

// exportIncident is GET /incidents/{id}/export?format=json|md.
func (d *Dashboard) exportIncident(w http.ResponseWriter, r *http.Request) error {
	if _, ok, err := d.readable(w, r); !ok {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "md" {
		return badRequest("format: want json or md, got %q", format)
	}
	ctx := r.Context()
	inc, err := d.deps.Store.GetIncident(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	ex := IncidentExport{Incident: *inc, ExportedAt: time.Now().UTC()}
	if ex.Timeline, err = d.deps.Store.Timeline(ctx, inc.IncidentID); err != nil {
		return err
	}
	if ex.Actions, _, err = d.deps.Store.ListActions(ctx, inc.IncidentID, time.Time{}, 1000); err != nil {
		return err
	}
	if d.deps.WorkflowURL != nil && inc.WorkflowID != "" {
		ex.TemporalURL = d.deps.WorkflowURL(inc.WorkflowID, inc.RunID)
	}
	ex.PostMortem, _, _ = d.deps.Store.PostMortem(ctx, inc.IncidentID) // absent until resolved
	if format == "json" {
		attachment(w, "application/json", inc.IncidentID+".json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ex)
	}
	attachment(w, "text/markdown; charset=utf-8", inc.IncidentID+".md")
	md := ex.PostMortem
	if md == "" {
		md = incidentSummary(ex)
	}
	_, err = w.Write([]byte(md))
	return err
}

// incidentSummary is the Markdown export of an incident that has no post-mortem yet.
func incidentSummary(ex IncidentExport) string {
	inc := ex.Incident
	var b strings.Builder
	fmt.Fprintf(&b, "# Incident %s: %s\n\n", inc.IncidentID, inc.Title)
	fmt.Fprintf(&b, "_Summary exported %s; the post-mortem is written when the incident is resolved._\n\n", ex.ExportedAt.Format(time.RFC3339))
	rows := [][2]string{
		{"Type", inc.IncidentType}, {"Severity", string(inc.Severity)}, {"Status", string(inc.Status)},
		{"Source", inc.Source}, {"Affected components", strings.Join(inc.AffectedComponents, ", ")},
		{"Detected", fmtTimeRFC(&inc.DetectedAt)}, {"Acknowledged by", inc.AcknowledgedBy},
		{"Assigned to", inc.AssignedTo}, {"Events", strconv.Itoa(inc.EventCount)},
		{"Resolved", fmtTimeRFC(inc.ResolvedAt)}, {"Resolution notes", inc.ResolutionNotes},
	}
	b.WriteString("| Field | Value |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", row[0], mdCell(row[1]))
	}
	if inc.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", inc.Description)
	}
	b.WriteString("\n## Timeline\n\n| Time | Kind | Actor | Message |\n|---|---|---|---|\n")
	for _, e := range ex.Timeline {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", fmtTimeRFC(&e.At), e.Kind, mdCell(e.Actor), mdCell(e.Message))
	}
	if len(ex.Actions) > 0 {
		b.WriteString("\n## Remediation actions\n\n| Time | Action | Status | Run by | Approved by |\n|---|---|---|---|---|\n")
		for _, a := range ex.Actions {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", fmtTimeRFC(&a.At), a.Action, a.Status, mdCell(a.Actor), mdCell(a.ApprovedBy))
		}
	}
	return b.String()
}

func mdCell(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func fmtTimeRFC(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// exportList is GET /export?format=json|csv with the dashboard's filters.
func (d *Dashboard) exportList(w http.ResponseWriter, r *http.Request) error {
	if _, ok, err := d.readable(w, r); !ok {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return badRequest("format: want json or csv, got %q", format)
	}
	f, err := parseDashFilter(r.URL.Query())
	if err != nil {
		return err
	}
	// Every matching incident, streamed from the store page by page: nothing is capped.
	status := f.tableStatus()
	name := "incidents-" + time.Now().UTC().Format("20060102-150405")
	if format == "json" {
		attachment(w, "application/json", name+".json")
		if _, err := io.WriteString(w, "{\n  \"incidents\": ["); err != nil {
			return err
		}
		n := 0
		err := d.scan(r.Context(), f, status, func(inc schemas.Incident) error {
			b, err := json.MarshalIndent(inc, "    ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n    "
			if n == 0 {
				sep = "\n    "
			}
			n++
			_, err = io.WriteString(w, sep+string(b))
			return err
		})
		if err != nil {
			return err // the download is cut short: the client sees invalid JSON, never a silent subset
		}
		end := "]\n}\n"
		if n > 0 {
			end = "\n  ]\n}\n"
		}
		_, err = io.WriteString(w, end)
		return err
	}
	attachment(w, "text/csv; charset=utf-8", name+".csv")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"incident_id", "severity", "status", "incident_type", "title", "source", "affected_components",
		"event_count", "detected_at", "acknowledged_at", "acknowledged_by", "assigned_to", "resolved_at",
		"mtta_seconds", "mttr_seconds"})
	err = d.scan(r.Context(), f, status, func(inc schemas.Incident) error {
		return cw.Write([]string{inc.IncidentID, string(inc.Severity), string(inc.Status), inc.IncidentType, csvSafe(inc.Title),
			csvSafe(inc.Source), csvSafe(strings.Join(inc.AffectedComponents, ";")), strconv.Itoa(inc.EventCount),
			fmtTimeRFC(&inc.DetectedAt), fmtTimeRFC(inc.AcknowledgedAt), csvSafe(inc.AcknowledgedBy), csvSafe(inc.AssignedTo),
			fmtTimeRFC(inc.ResolvedAt), fmtFloat(inc.MTTASeconds), fmtFloat(inc.MTTRSeconds)})
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas in free text (a cell starting with = + - @).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func fmtFloat(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}
