package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/procedures"
)

// repoConfig is the shipped settings/mahavishnu.yaml with the shipped rules.
func repoConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "settings", "mahavishnu.yaml"), func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.RulesFile = filepath.Join("..", "settings", "rules.yaml")
	return cfg
}

func testRunner(t *testing.T) *procedures.Runner {
	return &procedures.Runner{Config: repoConfig(t), Settings: incidentSettings}
}

// runScenario runs one scenario from YAML text.
func runScenario(t *testing.T, yamlText string) *procedures.Result {
	t.Helper()
	sc, err := procedures.Parse(t.Name()+".yaml", []byte(yamlText))
	require.NoError(t, err)
	return testRunner(t).Run(context.Background(), sc)
}

func report(t *testing.T, res *procedures.Result) string {
	var buf bytes.Buffer
	require.NoError(t, procedures.WriteText(&buf, []*procedures.Result{res}))
	return buf.String()
}

// TestProcedureExamples runs every shipped example scenario: they must all pass.
func TestProcedureExamples(t *testing.T) {
	files, err := procedures.Files([]string{filepath.Join("..", "procedures", "examples")})
	require.NoError(t, err)
	r := testRunner(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := procedures.Load(f)
			require.NoError(t, err)
			res := r.Run(context.Background(), sc)
			t.Log(report(t, res))
			require.True(t, res.Passed(), report(t, res))
		})
	}
	_ = os.Stdout
}
