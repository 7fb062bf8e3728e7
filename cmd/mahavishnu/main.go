// Command mahavishnu is the incident response orchestrator's single binary.
package main

import (
	"context"
	"os"

	"github.com/mahavishnu/mahavishnu/cli"
	"github.com/mahavishnu/mahavishnu/devserver"
)

func main() {
	app := cli.NewApp(cli.Options{StartEmbedded: startEmbedded})
	if err := cli.Run(context.Background(), app, os.Args); err != nil {
		os.Exit(1) // the app's ExitErrHandler has printed the error
	}
}

// startEmbedded adapts the embedded Temporal server to the CLI.
func startEmbedded(ctx context.Context, o cli.EmbeddedOptions) (cli.EmbeddedServer, error) {
	return devserver.Start(ctx, devserver.Options{
		DataDir: o.DataDir, Namespace: o.Namespace,
		FrontendPort: o.FrontendPort, UIPort: o.UIPort, Logger: o.Logger,
	})
}
