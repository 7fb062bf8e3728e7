package remediation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
)

// inheritedEnv are the manager's environment variables every command receives (when set).
// Nothing else is inherited unless listed in inherit_env: the manager's environment holds
// secrets (webhook URLs, API keys, database URLs) that a remediation command has no need of.
var inheritedEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// waitDelay is how long a killed command's output pipes may stay open (held by a process
// outside its process group) before they are closed and Execute returns.
const waitDelay = 2 * time.Second

var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CommandExecutor runs a program directly (exec, argv; never a shell). Each argv element
// is a text/template over Input and becomes exactly one argument, whatever characters the
// incident's fields hold. An element that an event value makes start with '-' (a
// component named "--all") is refused, so that no event value becomes an option; after a
// literal "--" element such values are operands and pass. The incident's fields are also passed as MAHAVISHNU_*
// environment variables.
type CommandExecutor struct {
	argv []*template.Template
	// operands is the index of the first element after a literal "--" (len(argv) without
	// one): from there on, arguments are operands whatever they start with.
	operands int
	env      map[string]Secret
	inherit  []string
	dir      string
	timeout  time.Duration
	maxBytes int
}

// NewCommandExecutor checks cfg and builds the executor. Errors name the field relative to
// the command block ("argv[2]: ..."). The program (argv[0]) must be fixed: a template there
// may not depend on incident fields, so an event can never choose what runs.
func NewCommandExecutor(cfg CommandConfig, timeout time.Duration) (*CommandExecutor, error) {
	if len(cfg.Argv) == 0 {
		return nil, errors.New("argv: must not be empty")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("timeout: must be positive, got %s", timeout)
	}
	c := &CommandExecutor{env: cfg.Env, dir: cfg.Dir, timeout: timeout, maxBytes: MaxOutputBytes}
	for i, arg := range cfg.Argv {
		field := fmt.Sprintf("argv[%d]", i)
		t, err := parseTemplate(field, arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		var rendered []string
		for _, sample := range sampleInputs {
			s, err := render(t, sample)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			rendered = append(rendered, s)
		}
		if i == 0 {
			switch {
			case strings.TrimSpace(rendered[0]) == "":
				return nil, errors.New("argv[0]: renders an empty program")
			case rendered[0] != rendered[1]:
				return nil, errors.New("argv[0]: the program must not depend on incident fields; pass them as arguments")
			}
		}
		c.argv = append(c.argv, t)
	}
	c.operands = len(cfg.Argv)
	if i := slices.Index(cfg.Argv, "--"); i > 0 {
		c.operands = i + 1
	}
	for _, name := range sortedKeys(cfg.Env) {
		switch {
		case !envNamePattern.MatchString(name):
			return nil, fmt.Errorf("env.%s: not a valid environment variable name", name)
		case strings.HasPrefix(strings.ToUpper(name), "MAHAVISHNU_"):
			return nil, fmt.Errorf("env.%s: MAHAVISHNU_* variables are reserved for the incident's fields", name)
		case strings.ContainsRune(cfg.Env[name].Value(), 0):
			return nil, fmt.Errorf("env.%s: value contains a NUL byte", name)
		}
	}
	for i, name := range cfg.InheritEnv {
		if !envNamePattern.MatchString(name) {
			return nil, fmt.Errorf("inherit_env[%d]: %q is not a valid environment variable name", i, name)
		}
		c.inherit = append(c.inherit, name)
	}
	if cfg.Dir != "" && !strings.HasPrefix(cfg.Dir, "/") {
		return nil, fmt.Errorf("dir: must be an absolute path, got %q", cfg.Dir)
	}
	return c, nil
}

// Argv renders the argument vector for in. A program that renders empty is an error.
func (c *CommandExecutor) Argv(in Input) ([]string, error) {
	in = in.mapStrings(noNUL)
	argv := make([]string, len(c.argv))
	for i, t := range c.argv {
		s, err := render(t, in)
		if err != nil {
			return nil, fmt.Errorf("argv[%d]: %w", i, err)
		}
		argv[i] = s
	}
	if strings.TrimSpace(argv[0]) == "" {
		return nil, errors.New("argv[0]: rendered an empty program")
	}
	if err := c.noOptionFromEvents(argv, in); err != nil {
		return nil, err
	}
	return argv, nil
}

// noOptionFromEvents refuses an argument before a literal "--" that starts with '-'
// because of an incident's value (a component named "--all"): no event value may become
// an option of the program. An argument whose leading '-' is the configuration's own
// ("--replicas={{...}}", "-n", a conditional "--force") passes: rendered with every value
// stripped of its leading dashes it still starts with '-'.
func (c *CommandExecutor) noOptionFromEvents(argv []string, in Input) error {
	for i := 1; i < c.operands && i < len(argv); i++ {
		if !strings.HasPrefix(argv[i], "-") {
			continue
		}
		plain, err := render(c.argv[i], in.mapStrings(func(s string) string { return strings.TrimLeft(s, "-") }))
		if err == nil && strings.HasPrefix(plain, "-") {
			continue
		}
		return fmt.Errorf("argv[%d]: the incident's values render %q, which starts with '-' and would be taken as an option: "+
			"refused (put a literal \"--\" before it in argv if the program should take it as an operand)", i, argv[i])
	}
	return nil
}

// noNUL replaces NUL bytes, which no argument or environment value can carry.
func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }

// environ is the command's whole environment: a few inherited variables, the configured
// ones, then the incident's (which win).
func (c *CommandExecutor) environ(in Input) []string {
	var env []string
	for _, name := range append(slices.Clone(inheritedEnv), c.inherit...) {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	for _, name := range sortedKeys(c.env) {
		env = append(env, name+"="+c.env[name].Value())
	}
	return append(env, in.mapStrings(noNUL).env()...)
}

// envNames lists the variable names of environ, for dry runs (values may be secrets).
func (c *CommandExecutor) envNames(in Input) []string {
	env := c.environ(in)
	names := make([]string, len(env))
	for i, kv := range env {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	return names
}

// DryRun renders the argv and lists the environment variable names, running nothing.
func (c *CommandExecutor) DryRun(in Input) (Result, error) {
	argv, err := c.Argv(in)
	if err != nil {
		return Result{Status: StatusFailed, ExitCode: -1, Details: "cannot build the command: " + err.Error()},
			fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return Result{Status: StatusDryRun, ExitCode: -1, Details: fmt.Sprintf(
		"would run %q (no shell) with environment %s, timeout %s",
		argv, strings.Join(c.envNames(in), ", "), c.timeout)}, nil
}

// Execute runs the command, waits for it (killing its whole process group at the
// timeout) and reports its exit code and captured output.
func (c *CommandExecutor) Execute(ctx context.Context, in Input) (Result, error) {
	start := time.Now()
	argv, err := c.Argv(in)
	if err != nil {
		return Result{Status: StatusFailed, ExitCode: -1, Details: "cannot build the command: " + err.Error()},
			fmt.Errorf("%w: %w", ErrFailed, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = c.environ(in)
	cmd.Dir = c.dir
	stdout, stderr := newCapture(c.maxBytes), newCapture(c.maxBytes)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	killGroupOnCancel(cmd)
	runErr := cmd.Run()

	res := Result{Status: StatusFailed, ExitCode: -1, Output: stdout.String(), Stderr: stderr.String(),
		Duration: time.Since(start)}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
		res.Status = StatusSucceeded
		res.Details = fmt.Sprintf("ran %q: exit code 0", argv)
		return res, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Details = fmt.Sprintf("ran %q: killed after the %s timeout", argv, c.timeout)
		return res, fmt.Errorf("%w: %w: %s killed after %s", ErrFailed, ErrTimeout, argv[0], c.timeout)
	case ctx.Err() != nil:
		res.Details = fmt.Sprintf("ran %q: killed, the request was cancelled", argv)
		return res, fmt.Errorf("%w: %s: %w", ErrFailed, argv[0], ctx.Err())
	case errors.As(runErr, &exitErr):
		res.Details = fmt.Sprintf("ran %q: %s", argv, exitErr.ProcessState)
		return res, fmt.Errorf("%w: %s: %s", ErrFailed, argv[0], exitErr.ProcessState)
	default:
		res.Details = fmt.Sprintf("could not run %q: %v", argv, runErr)
		return res, fmt.Errorf("%w: run %s: %w", ErrFailed, argv[0], runErr)
	}
}
