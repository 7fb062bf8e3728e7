package deploy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/mahavishnu/mahavishnu/config"
)

const (
	composePath  = "../docker-compose.yml"
	settingsPath = "../settings/mahavishnu.yaml"
)

// composeFile is the part of docker-compose.yml the test checks.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image         string            `yaml:"image"`
	Build         string            `yaml:"build"`
	ContainerName string            `yaml:"container_name"`
	Command       []string          `yaml:"command"`
	Environment   map[string]string `yaml:"environment"`
	Ports         []string          `yaml:"ports"`
	Volumes       []string          `yaml:"volumes"`
	DependsOn     yaml.Node         `yaml:"depends_on"`
	Healthcheck   struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Deploy struct {
		Replicas *int `yaml:"replicas"`
	} `yaml:"deploy"`
}

// The roles of `mahavishnu incidents start --role` (default: all of them).
const (
	roleAPI      = "api"
	roleDetector = "detector"
	roleWorker   = "worker"
)

var allRoles = []string{roleAPI, roleDetector, roleWorker}

// imageBinary is where the Dockerfile installs the binary.
const imageBinary = "/usr/local/bin/mahavishnu"

// healthcheck is the test every mahavishnu service runs: the image has no shell or curl,
// and `incidents status` asks the process's own /healthz (on api.listen, over loopback),
// exiting 1 when it does not answer or answers degraded.
var healthcheck = []string{"CMD", imageBinary, "incidents", "status"}

// notificationSecrets are the variables the settings read the channels' secrets from;
// the workers send notifications, so they need them.
var notificationSecrets = []string{"SLACK_WEBHOOK_URL", "PAGERDUTY_SERVICE_KEY"}

// serviceRoles returns the roles a service's command runs: `incidents start` with an
// optional --role list.
func serviceRoles(s service) ([]string, error) {
	cmd := s.Command
	if len(cmd) < 2 || cmd[0] != "incidents" || cmd[1] != "start" {
		return nil, fmt.Errorf("command %q, want [incidents start --role ...]", cmd)
	}
	list := strings.Join(allRoles, ",")
	switch rest := cmd[2:]; {
	case len(rest) == 0:
	case len(rest) == 2 && rest[0] == "--role":
		list = rest[1]
	case len(rest) == 1 && strings.HasPrefix(rest[0], "--role="):
		list = strings.TrimPrefix(rest[0], "--role=")
	default:
		return nil, fmt.Errorf("command %q: want [incidents start --role ROLES] and nothing else", cmd)
	}
	var roles []string
	for _, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		if !slices.Contains(allRoles, r) {
			return nil, fmt.Errorf("command %q: unknown role %q, want api, detector or worker", cmd, r)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles, nil
}

// testEnv is the host environment docker compose interpolates the file with.
var testEnv = map[string]string{
	"MAHAVISHNU_API_TOKEN":   "test-token",
	"POSTGRES_PASSWORD":      "pgpass",
	"MAHAVISHNU_DB_PASSWORD": "mhpass",
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:\?|:-)([^}]*))?\}`)

// interpolate does what compose does with ${NAME}, ${NAME:-default} and ${NAME:?message}.
func interpolate(s string, env map[string]string) (string, error) {
	var errs []error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		g := interpolation.FindStringSubmatch(m)
		if v := env[g[1]]; v != "" {
			return v
		}
		switch g[2] {
		case ":-":
			return g[3]
		case ":?":
			errs = append(errs, fmt.Errorf("required variable %s is missing: %s", g[1], g[3]))
		}
		return ""
	})
	return out, errors.Join(errs...)
}

// requiredVar reports whether raw is exactly ${name:?...}: compose refuses to start without it.
func requiredVar(raw, name string) bool {
	g := interpolation.FindStringSubmatch(raw)
	return g != nil && g[0] == raw && g[1] == name && g[2] == ":?"
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(composePath)
	require.NoError(t, err)
	var f composeFile
	require.NoError(t, yaml.Unmarshal(data, &f), composePath)
	return f
}

// knownVars maps every environment variable the configuration reads to its key.
func knownVars() map[string]string {
	vars := map[string]string{}
	for _, key := range config.Default().Keys() {
		for _, v := range config.EnvVars(key) {
			vars[v] = key
		}
	}
	return vars
}

// mahavishnuServices lists the services that run the mahavishnu image.
func mahavishnuServices(f composeFile) []string {
	var names []string
	for name, s := range f.Services {
		if s.Build != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// containerPort returns the container side of a ports entry ("127.0.0.1:8233:8080" -> "8080").
func containerPort(p string) string {
	return p[strings.LastIndex(p, ":")+1:]
}

// checkCompose checks the compose file against the configuration; every problem is reported.
func checkCompose(f composeFile, env map[string]string) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, name := range []string{"postgresql", "temporal", "temporal-ui", "mahavishnu-api", "mahavishnu-detector", "mahavishnu-worker"} {
		if _, ok := f.Services[name]; !ok {
			fail("service %s is missing", name)
		}
	}
	if errs != nil {
		return errors.Join(errs...)
	}
	pg, temporal, ui := f.Services["postgresql"], f.Services["temporal"], f.Services["temporal-ui"]
	if !slices.Contains(pg.Healthcheck.Test, "pg_isready -U temporal -d postgres") {
		fail("postgresql: healthcheck %q does not run pg_isready", pg.Healthcheck.Test)
	}
	if !slices.ContainsFunc(pg.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/var/lib/postgresql/data") }) {
		fail("postgresql: no volume for /var/lib/postgresql/data")
	}
	var healthy struct {
		PostgreSQL struct {
			Condition string `yaml:"condition"`
		} `yaml:"postgresql"`
	}
	if err := temporal.DependsOn.Decode(&healthy); err != nil || healthy.PostgreSQL.Condition != "service_healthy" {
		fail("temporal: depends_on must wait for postgresql to be service_healthy")
	}
	if temporal.Environment["DB"] != "postgres12" || temporal.Environment["POSTGRES_SEEDS"] != "postgresql" {
		fail("temporal: want DB=postgres12 and POSTGRES_SEEDS=postgresql, got %q and %q",
			temporal.Environment["DB"], temporal.Environment["POSTGRES_SEEDS"])
	}
	if ui.Environment["TEMPORAL_ADDRESS"] != "temporal:7233" {
		fail("temporal-ui: TEMPORAL_ADDRESS = %q, want temporal:7233", ui.Environment["TEMPORAL_ADDRESS"])
	}

	known := knownVars()
	var publishers []string
	runBy := map[string][]string{} // role -> services
	for _, name := range mahavishnuServices(f) {
		s := f.Services[name]
		roles, err := serviceRoles(s)
		if err != nil {
			fail("%s: %w", name, err)
		}
		for _, r := range roles {
			runBy[r] = append(runBy[r], name)
		}
		errs = append(errs, checkRoles(name, s, roles)...)
		lookup := map[string]string{}
		for k, raw := range s.Environment {
			if _, ok := known[k]; !ok {
				fail("%s: environment variable %s is not read by the configuration", name, k)
			}
			v, err := interpolate(raw, env)
			if err != nil {
				fail("%s: %s: %w", name, k, err)
			}
			lookup[k] = v
		}
		cfg, err := config.Load(settingsPath, func(k string) (string, bool) { v, ok := lookup[k]; return v, ok })
		if err != nil {
			fail("%s: the configuration does not load: %w", name, err)
			continue
		}
		errs = append(errs, checkConfig(name, cfg, s, f)...)
		if len(s.Ports) > 0 {
			publishers = append(publishers, name)
		}
	}
	if len(publishers) != 1 {
		fail("want exactly one mahavishnu service publishing ports (scale the others), got %q", publishers)
	}
	for _, r := range allRoles {
		if len(runBy[r]) != 1 {
			fail("role %s: want exactly one service running it (one service per role), got %q", r, runBy[r])
		}
	}
	return errors.Join(errs...)
}

// checkRoles checks what one mahavishnu service needs for the roles it runs.
func checkRoles(name string, s service, roles []string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }
	if !slices.Equal(s.Healthcheck.Test, healthcheck) {
		fail("healthcheck %q, want %q (the process's own /healthz)", s.Healthcheck.Test, healthcheck)
	}
	if len(s.Ports) > 0 && !slices.Contains(roles, roleAPI) {
		fail("publishes ports but does not run the api role")
	}
	if !slices.Contains(roles, roleAPI) && s.ContainerName != "" {
		fail("container_name %q: a service with a fixed name cannot be scaled", s.ContainerName)
	}
	if r := s.Deploy.Replicas; r != nil && *r < 1 {
		fail("deploy.replicas %d: the role would not run", *r)
	}
	if r := s.Deploy.Replicas; r != nil && *r > 1 && len(s.Ports) > 0 {
		fail("deploy.replicas %d: replicas cannot all publish the same host port", *r)
	}
	if slices.Contains(roles, roleWorker) {
		for _, v := range notificationSecrets {
			if _, ok := s.Environment[v]; !ok {
				fail("runs the worker role (which sends notifications) but does not pass %s", v)
			}
		}
	}
	return errs
}

// checkConfig checks one mahavishnu service's loaded configuration against the other services.
func checkConfig(name string, cfg *config.Config, s service, f composeFile) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }

	host, port, err := net.SplitHostPort(cfg.Temporal.Address)
	switch {
	case cfg.Embedded():
		fail("temporal.address is empty: the embedded server would run")
	case err != nil:
		fail("temporal.address %q: %w", cfg.Temporal.Address, err)
	case host != "temporal" || !slices.ContainsFunc(f.Services["temporal"].Ports, func(p string) bool { return containerPort(p) == port }):
		fail("temporal.address %q is not a port of the temporal service", cfg.Temporal.Address)
	}

	u, err := url.Parse(cfg.DatabaseURL())
	switch {
	case err != nil:
		fail("database.url does not parse: %w", err) // url.Parse errors redact the password
	case u.Scheme != "postgres" || u.Hostname() != "postgresql" || u.Port() != "5432":
		fail("database.url: want postgres://...@postgresql:5432/..., got scheme %q host %q", u.Scheme, u.Host)
	case u.Path != "/mahavishnu":
		fail("database.url: want the mahavishnu database (Temporal owns the others), got %q", u.Path)
	}

	apiHost, apiPort, err := net.SplitHostPort(cfg.API.Listen)
	if err != nil {
		fail("api.listen %q: %w", cfg.API.Listen, err)
		return errs
	}
	if ip := net.ParseIP(apiHost); apiHost != "localhost" && (ip == nil || !ip.IsLoopback()) {
		if cfg.API.Token.Value() == "" {
			fail("api.listen %s is beyond loopback but api.token is empty", cfg.API.Listen)
		}
		if !requiredVar(s.Environment["MAHAVISHNU_API_TOKEN"], "MAHAVISHNU_API_TOKEN") {
			fail("MAHAVISHNU_API_TOKEN must be ${MAHAVISHNU_API_TOKEN:?...} so compose refuses to start without a token")
		}
	}
	for _, p := range s.Ports {
		if containerPort(p) != apiPort {
			fail("publishes container port %s, but the API listens on %s", containerPort(p), apiPort)
		}
	}
	return errs
}

func TestComposeFile(t *testing.T) {
	require.NoError(t, checkCompose(loadCompose(t), testEnv))
}

// TestComposeRoles: one service per role, the detector with a standby, the worker
// scalable, and the healthcheck's binary where the image has it.
func TestComposeRoles(t *testing.T) {
	f := loadCompose(t)
	for name, want := range map[string][]string{
		"mahavishnu-api": {roleAPI}, "mahavishnu-detector": {roleDetector}, "mahavishnu-worker": {roleWorker},
	} {
		roles, err := serviceRoles(f.Services[name])
		require.NoError(t, err)
		require.Equal(t, want, roles, name)
	}
	detector := f.Services["mahavishnu-detector"]
	require.NotNil(t, detector.Deploy.Replicas)
	require.Equal(t, 2, *detector.Deploy.Replicas, "one active detector (advisory lock) and a standby")
	worker := f.Services["mahavishnu-worker"]
	require.Empty(t, worker.Ports, "a scaled service publishes no port")
	require.Empty(t, worker.ContainerName)

	dockerfile, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	require.Contains(t, string(dockerfile), "COPY --from=build /out/mahavishnu "+imageBinary+"\n",
		"the healthcheck runs the binary where the image has it")
}

func TestComposeInitScriptCreatesTheDatabase(t *testing.T) {
	f := loadCompose(t)
	var script string
	for _, v := range f.Services["postgresql"].Volumes {
		if src, dst, ok := strings.Cut(strings.TrimSuffix(v, ":ro"), ":"); ok && strings.HasPrefix(dst, "/docker-entrypoint-initdb.d/") {
			script = filepath.Join("..", src)
		}
	}
	require.NotEmpty(t, script, "postgresql mounts no script into /docker-entrypoint-initdb.d")
	data, err := os.ReadFile(script)
	require.NoError(t, err)
	require.Contains(t, string(data), "CREATE DATABASE mahavishnu OWNER mahavishnu;")
}

// TestCheckComposeCatches shows that each check fails on the mistake it is there for.
func TestCheckComposeCatches(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *composeFile, env map[string]string)
		want   string
	}{
		{"missing service", func(f *composeFile, _ map[string]string) { delete(f.Services, "temporal-ui") },
			"service temporal-ui is missing"},
		{"misspelled variable", func(f *composeFile, _ map[string]string) {
			f.Services["mahavishnu-api"].Environment["MAHAVISHNU_TEMPORAL_ADRESS"] = "temporal:7233"
		}, "mahavishnu-api: environment variable MAHAVISHNU_TEMPORAL_ADRESS is not read by the configuration"},
		{"embedded temporal", func(f *composeFile, _ map[string]string) {
			delete(f.Services["mahavishnu-api"].Environment, "MAHAVISHNU_TEMPORAL_ADDRESS")
		}, "mahavishnu-api: temporal.address is empty"},
		{"wrong temporal port", func(f *composeFile, _ map[string]string) {
			f.Services["mahavishnu-api"].Environment["MAHAVISHNU_TEMPORAL_ADDRESS"] = "temporal:7234"
		}, `mahavishnu-api: temporal.address "temporal:7234" is not a port of the temporal service`},
		{"database on another host", func(f *composeFile, _ map[string]string) {
			f.Services["mahavishnu-api"].Environment["INCIDENT_DATABASE_URL"] = "postgres://u:p@localhost:5432/mahavishnu"
		}, `mahavishnu-api: database.url: want postgres://...@postgresql:5432/..., got scheme "postgres" host "localhost:5432"`},
		{"temporal's database", func(f *composeFile, _ map[string]string) {
			f.Services["mahavishnu-api"].Environment["INCIDENT_DATABASE_URL"] = "postgres://u:p@postgresql:5432/temporal"
		}, `mahavishnu-api: database.url: want the mahavishnu database (Temporal owns the others), got "/temporal"`},
		{"token missing", func(_ *composeFile, env map[string]string) { delete(env, "MAHAVISHNU_API_TOKEN") },
			"mahavishnu-api: MAHAVISHNU_API_TOKEN: required variable MAHAVISHNU_API_TOKEN is missing"},
		{"token optional", func(f *composeFile, _ map[string]string) {
			f.Services["mahavishnu-api"].Environment["MAHAVISHNU_API_TOKEN"] = "${MAHAVISHNU_API_TOKEN:-}"
		}, "mahavishnu-api: MAHAVISHNU_API_TOKEN must be ${MAHAVISHNU_API_TOKEN:?...}"},
		{"two publishers", func(f *composeFile, _ map[string]string) {
			w := f.Services["mahavishnu-worker"]
			w.Ports = []string{"8081:8080"}
			f.Services["mahavishnu-worker"] = w
		}, `want exactly one mahavishnu service publishing ports (scale the others), got ["mahavishnu-api" "mahavishnu-worker"]`},
		{"worker publishes", func(f *composeFile, _ map[string]string) {
			w := f.Services["mahavishnu-worker"]
			w.Ports = []string{"8081:8080"}
			f.Services["mahavishnu-worker"] = w
		}, "mahavishnu-worker: publishes ports but does not run the api role"},
		{"role run twice, role run nowhere", func(f *composeFile, _ map[string]string) {
			d := f.Services["mahavishnu-detector"]
			d.Command = []string{"incidents", "start", "--role", "api,worker"}
			f.Services["mahavishnu-detector"] = d
		}, `role api: want exactly one service running it (one service per role), got ["mahavishnu-api" "mahavishnu-detector"]` + "\n" +
			`role detector: want exactly one service running it (one service per role), got []` + "\n" +
			`role worker: want exactly one service running it (one service per role), got ["mahavishnu-detector" "mahavishnu-worker"]`},
		{"all roles by default", func(f *composeFile, _ map[string]string) {
			w := f.Services["mahavishnu-worker"]
			w.Command = []string{"incidents", "start"}
			f.Services["mahavishnu-worker"] = w
		}, `role api: want exactly one service running it (one service per role), got ["mahavishnu-api" "mahavishnu-worker"]`},
		{"unknown role", func(f *composeFile, _ map[string]string) {
			w := f.Services["mahavishnu-worker"]
			w.Command = []string{"incidents", "start", "--role", "workers"}
			f.Services["mahavishnu-worker"] = w
		}, `mahavishnu-worker: command ["incidents" "start" "--role" "workers"]: unknown role "workers", want api, detector or worker`},
		{"not the start command", func(f *composeFile, _ map[string]string) {
			w := f.Services["mahavishnu-worker"]
			w.Command = []string{"incidents", "status"}
			f.Services["mahavishnu-worker"] = w
		}, `mahavishnu-worker: command ["incidents" "status"], want [incidents start --role ...]`},
		{"no healthcheck", func(f *composeFile, _ map[string]string) {
			d := f.Services["mahavishnu-detector"]
			d.Healthcheck.Test = nil
			f.Services["mahavishnu-detector"] = d
		}, `mahavishnu-detector: healthcheck [], want ["CMD" "/usr/local/bin/mahavishnu" "incidents" "status"]`},
		{"worker with a fixed name", func(f *composeFile, _ map[string]string) {
			w := f.Services["mahavishnu-worker"]
			w.ContainerName = "worker"
			f.Services["mahavishnu-worker"] = w
		}, `mahavishnu-worker: container_name "worker": a service with a fixed name cannot be scaled`},
		{"no detector replica", func(f *composeFile, _ map[string]string) {
			d := f.Services["mahavishnu-detector"]
			zero := 0
			d.Deploy.Replicas = &zero
			f.Services["mahavishnu-detector"] = d
		}, "mahavishnu-detector: deploy.replicas 0: the role would not run"},
		{"replicated publisher", func(f *composeFile, _ map[string]string) {
			a := f.Services["mahavishnu-api"]
			two := 2
			a.Deploy.Replicas = &two
			f.Services["mahavishnu-api"] = a
		}, "mahavishnu-api: deploy.replicas 2: replicas cannot all publish the same host port"},
		{"worker without notification secrets", func(f *composeFile, _ map[string]string) {
			delete(f.Services["mahavishnu-worker"].Environment, "SLACK_WEBHOOK_URL")
		}, "mahavishnu-worker: runs the worker role (which sends notifications) but does not pass SLACK_WEBHOOK_URL"},
		{"published port is not the API's", func(f *composeFile, _ map[string]string) {
			f.Services["mahavishnu-api"].Environment["MAHAVISHNU_API_LISTEN"] = "0.0.0.0:9090"
		}, "mahavishnu-api: publishes container port 8080, but the API listens on 9090"},
		{"temporal not waiting for postgres", func(f *composeFile, _ map[string]string) {
			tm := f.Services["temporal"]
			tm.DependsOn = yaml.Node{}
			f.Services["temporal"] = tm
		}, "temporal: depends_on must wait for postgresql to be service_healthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := loadCompose(t)
			env := map[string]string{}
			for k, v := range testEnv {
				env[k] = v
			}
			tt.mutate(&f, env)
			err := checkCompose(f, env)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestComposeConfig asks docker compose itself to validate the file, when the compose
// plugin is installed; the checks above run either way.
func TestComposeConfig(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err == nil {
		err = exec.Command(docker, "compose", "version").Run()
	}
	if err != nil {
		t.Logf("docker compose is not available (%v): only the YAML checks ran", err)
		return
	}
	cmd := exec.Command(docker, "compose", "-f", composePath, "config", "-q")
	cmd.Env = os.Environ()
	for k, v := range testEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docker compose config: %s", out)
}
