package remediation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/mahavishnu/mahavishnu/schemas"
)

const recipesDir = "../settings/examples/remediation"

// recipe loads one recipe file into a registry.
func recipe(t *testing.T, file string, edit func(string) string) *Registry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(recipesDir, file))
	require.NoError(t, err)
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	cfgs, err := DecodeActionsYAML([]byte(text))
	require.NoError(t, err, file)
	reg, err := NewRegistry(cfgs)
	require.NoError(t, err, file)
	return reg
}

// recipeIncident is the incident the recipes are rendered for.
func recipeIncident(component string) Input {
	return Input{IncidentID: "inc_0123456789abcdef", IncidentType: "service_down", Severity: schemas.SeverityCritical,
		Source: "checkout", Component: component, Actor: "alice", IdempotencyKey: "remediation/inc_0123456789abcdef/x/1"}
}

func argvOf(t *testing.T, reg *Registry, action string, in Input) ([]string, error) {
	t.Helper()
	a, ok := reg.Get(action)
	require.True(t, ok, action)
	ex, ok := a.Executor.(*CommandExecutor)
	require.True(t, ok, "%s is a command", action)
	in.Action = action
	return ex.Argv(in)
}

// TestRecipesRenderTheirArgv renders every command recipe for an incident and checks the
// exact argv; a component starting with '-' never becomes an option.
func TestRecipesRenderTheirArgv(t *testing.T) {
	in := recipeIncident("checkout-api")
	tests := []struct {
		file, action string
		want         []string
	}{
		{"kubernetes.yaml", "scale_up", []string{"kubectl", "--namespace", "production", "scale", "deployment/checkout-api", "--replicas=6"}},
		{"kubernetes.yaml", "restart_service", []string{"kubectl", "--namespace", "production", "rollout", "restart", "deployment/checkout-api"}},
		{"kubernetes.yaml", "rollback", []string{"kubectl", "--namespace", "production", "rollout", "undo", "deployment/checkout-api"}},
		{"systemd.yaml", "restart_service", []string{"systemctl", "restart", "--", "checkout-api.service"}},
		{"docker-compose.yaml", "restart_service", []string{"docker", "compose", "--project-directory", "/srv/app", "restart", "--", "checkout-api"}},
		{"docker-compose.yaml", "scale_up", []string{"docker", "compose", "--project-directory", "/srv/app", "up", "--detach", "--no-recreate",
			"--scale", "checkout-api=3", "--", "checkout-api"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.action, func(t *testing.T) {
			reg := recipe(t, tt.file, nil)
			got, err := argvOf(t, reg, tt.action, in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			a, _ := reg.Get(tt.action)
			if tt.action != "scale_up" {
				require.False(t, a.Safe, "%s keeps needing an approver", tt.action)
			}
			hostile := recipeIncident("--kubeconfig=/tmp/evil")
			if got, err := argvOf(t, reg, tt.action, hostile); err == nil {
				for i, arg := range got[1:] {
					require.False(t, strings.HasPrefix(arg, "--kubeconfig") && !slicesContains(got[:i+1], "--"),
						"%q became an option: %q", hostile.Component, got)
				}
			} else {
				require.ErrorContains(t, err, "would be taken as an option")
			}
		})
	}
	got, err := argvOf(t, recipe(t, "redis.yaml", nil), "clear_cache", in)
	require.NoError(t, err)
	require.Equal(t, []string{"redis-cli", "-h", "127.0.0.1", "-p", "6379", "EVAL"}, got[:6])
	require.Contains(t, got[6], `redis.call("SCAN", cursor, "MATCH", ARGV[1], "COUNT", 1000)`)
	require.Equal(t, []string{"0", "cache:checkout-api:*"}, got[7:])
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// redisCLI runs redis-cli against the local redis-server (127.0.0.1:6379; .ci/run starts
// it when missing).
func redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", "6379"}, args...)...).CombinedOutput()
	require.NoError(t, err, "redis-cli %v: %s (is redis-server running on 127.0.0.1:6379?)", args, out)
	return strings.TrimSpace(string(out))
}

// TestRedisRecipeClearsTheComponentsKeys runs the Redis recipe for real against the local
// redis-server: the component's cache keys are gone, other keys stay.
func TestRedisRecipeClearsTheComponentsKeys(t *testing.T) {
	component := fmt.Sprintf("recipe-test-%d", time.Now().UnixNano())
	keep := "cache:" + component + "-other:1"
	var mine []string
	for i := range 25 {
		mine = append(mine, fmt.Sprintf("cache:%s:page-%d", component, i))
	}
	t.Cleanup(func() { redisCLI(t, append([]string{"DEL", keep}, mine...)...) })
	for _, k := range append(mine, keep) {
		require.Equal(t, "OK", redisCLI(t, "SET", k, "cached"))
	}
	require.Equal(t, "26", redisCLI(t, append([]string{"EXISTS", keep}, mine...)...))

	a, ok := recipe(t, "redis.yaml", nil).Get("clear_cache")
	require.True(t, ok)
	res, err := a.Execute(context.Background(), recipeIncident(component))
	require.NoError(t, err, res.Text())
	require.Equal(t, StatusSucceeded, res.Status)
	require.Equal(t, "25", strings.TrimSpace(res.Output), "the script answers with the keys it removed")
	require.Equal(t, "0", redisCLI(t, append([]string{"EXISTS"}, mine...)...), "the component's keys are gone")
	require.Equal(t, "1", redisCLI(t, "EXISTS", keep), "another component's keys stay")
}

// TestHTTPAdminRecipeSendsItsRequest runs the HTTP admin recipe against a local receiver
// standing in for the application.
func TestHTTPAdminRecipeSendsItsRequest(t *testing.T) {
	type got struct {
		method, path, auth, idem string
		body                     map[string]any
	}
	reqs := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		reqs <- got{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	reg := recipe(t, "http-admin.yaml", func(s string) string {
		s = strings.ReplaceAll(s, "https://app.internal", srv.URL)
		return strings.ReplaceAll(s, "${APP_ADMIN_TOKEN}", "t0ken")
	})
	a, ok := reg.Get("clear_cache")
	require.True(t, ok)
	in := recipeIncident("checkout api/v2")
	res, err := a.Execute(context.Background(), in)
	require.NoError(t, err, res.Text())
	require.Equal(t, StatusSucceeded, res.Status)
	r := <-reqs
	require.Equal(t, http.MethodPost, r.method)
	require.Equal(t, "/admin/cache/checkout%20api%2Fv2/clear", r.path, "the component is one path segment")
	require.Equal(t, "Bearer t0ken", r.auth)
	require.Equal(t, in.IdempotencyKey, r.idem)
	require.Equal(t, map[string]any{"component": "checkout api/v2", "incident": in.IncidentID, "requested_by": "alice"}, r.body)
	require.NotContains(t, res.Text(), "t0ken", "secrets never show")
}

// TestShippedClearCacheRunsForReal: the clear_cache that settings/mahavishnu.yaml ships
// (the README's quickstart walk) empties data/cache under the manager's directory.
func TestShippedClearCacheRunsForReal(t *testing.T) {
	data, err := os.ReadFile("../settings/mahavishnu.yaml")
	require.NoError(t, err)
	var doc struct {
		IncidentResponse struct {
			Remediation struct {
				Actions yaml.Node `yaml:"actions"`
			} `yaml:"remediation"`
		} `yaml:"incident_response"`
	}
	require.NoError(t, yaml.Unmarshal(data, &doc))
	block, err := yaml.Marshal(&doc.IncidentResponse.Remediation.Actions)
	require.NoError(t, err)
	cfgs, err := DecodeActionsYAML(block)
	require.NoError(t, err)
	reg, err := NewRegistry(cfgs)
	require.NoError(t, err)
	a, ok := reg.Get("clear_cache")
	require.True(t, ok)
	require.True(t, a.Configured() && a.Safe)

	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.MkdirAll(filepath.Join("data", "cache", "api"), 0o755))
	for _, f := range []string{"data/cache/page-1", "data/cache/api/page-2"} {
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	}
	res, err := a.Execute(context.Background(), recipeIncident("api"))
	require.NoError(t, err, res.Text())
	require.Equal(t, StatusSucceeded, res.Status)
	require.Contains(t, res.Output, "data/cache/page-1")
	entries, err := os.ReadDir(filepath.Join(dir, "data", "cache"))
	require.NoError(t, err)
	require.Empty(t, entries, "the cache is empty")
	require.DirExists(t, filepath.Join(dir, "data", "cache"), "the cache directory itself stays")
}
