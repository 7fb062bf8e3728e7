package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/stretchr/testify/require"
)

func TestPeopleAndSchedulesAPI(t *testing.T) {
	h, _ := newServerWithToken(t, "")
	for _, p := range []string{
		`{"name":"alice","email":"alice@example.com","slack_user":"U111"}`,
		`{"name":"bob","role":"approver"}`,
		`{"name":"carol"}`,
	} {
		code, body := call(t, h, http.MethodPost, "/api/v1/people", p)
		require.Equal(t, http.StatusCreated, code, body)
	}
	code, body := call(t, h, http.MethodPost, "/api/v1/people", `{"name":"bob"}`)
	require.Equal(t, http.StatusConflict, code, body)
	code, body = call(t, h, http.MethodPost, "/api/v1/people", `{"name":"dan","role":"king"}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body["error"], "role:")
	code, body = call(t, h, http.MethodPatch, "/api/v1/people/alice", `{"phone":"+15550100"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "+15550100", body["phone"])
	require.Equal(t, "responder", body["role"])
	code, _ = call(t, h, http.MethodGet, "/api/v1/people/nobody", "")
	require.Equal(t, http.StatusNotFound, code)

	code, body = call(t, h, http.MethodPost, "/api/v1/schedules", `{"name":"payments","layer":{"people":["alice","nobody"],
		"rotation":"weekly","handoff":"mon 09:00","time_zone":"Europe/Berlin"}}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body["error"], `layer.people[1]: person "nobody" is not in the directory`)

	start := time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)
	code, body = call(t, h, http.MethodPost, "/api/v1/schedules", `{"name":"payments","layer":{"people":["alice","bob"],
		"rotation":"weekly","handoff":"mon 09:00","time_zone":"Europe/Berlin","start":"`+start+`"}}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = call(t, h, http.MethodPost, "/api/v1/schedules/payments/layers", `{"people":["carol"],
		"rotation":"daily","handoff":"09:00","time_zone":"UTC"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["layers"], 2)

	from := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	code, body = call(t, h, http.MethodPost, "/api/v1/schedules/payments/overrides", `{"person":"carol","from":"`+
		from.Format(time.RFC3339)+`","to":"`+from.Add(2*time.Hour).Format(time.RFC3339)+`","created_by":"bob"}`)
	require.Equal(t, http.StatusCreated, code, body)
	ovr := body["id"].(string)
	code, body = call(t, h, http.MethodGet, "/api/v1/schedules/payments/oncall?at="+from.Add(time.Minute).Format(time.RFC3339), "")
	require.Equal(t, http.StatusOK, code, body)
	on := body["oncall"].([]any)
	require.Len(t, on, 2)
	require.Equal(t, "carol", on[0].(map[string]any)["person"])
	require.Equal(t, ovr, on[0].(map[string]any)["override"])

	// The iCalendar feed, parsed by a real iCalendar library.
	req := httptest.NewRequest(http.MethodGet, "/api/v1/schedules/payments.ics", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "text/calendar; charset=utf-8", rec.Header().Get("Content-Type"))
	cal, err := ics.ParseCalendar(strings.NewReader(rec.Body.String()))
	require.NoError(t, err)
	events := cal.Events()
	require.NotEmpty(t, events)
	var override *ics.VEvent
	layer1, layer2 := 0, 0
	for _, ev := range events {
		s := ev.GetProperty(ics.ComponentPropertySummary).Value
		if strings.Contains(s, "(override)") {
			override = ev
		}
		if strings.Contains(s, "layer 2") {
			layer2++
		}
		if strings.Contains(s, "layer 1") {
			layer1++
		}
	}
	require.Equal(t, 1, layer2, "carol alone: one shift over the whole feed")
	require.GreaterOrEqual(t, layer1, 14, "alice and bob take 14 weekly turns in 97 days, plus the override's")
	require.NotNil(t, override, "the override's shift is in the feed")
	require.Equal(t, "On call: carol (payments, layer 1) (override)", override.GetProperty(ics.ComponentPropertySummary).Value)
	gotStart, err := override.GetStartAt()
	require.NoError(t, err)
	gotEnd, err := override.GetEndAt()
	require.NoError(t, err)
	require.True(t, from.Equal(gotStart), "%s != %s", gotStart, from)
	require.True(t, from.Add(2*time.Hour).Equal(gotEnd))

	code, _ = call(t, h, http.MethodGet, "/api/v1/schedules/nope.ics", "")
	require.Equal(t, http.StatusNotFound, code)
	req = httptest.NewRequest(http.MethodDelete, "/api/v1/overrides/"+ovr, nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Host = "127.0.0.1:8080" // without a token, writes must address the loopback server
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code)
}
