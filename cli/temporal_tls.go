package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/config"
)

// secureTemporal adds the cluster-mode connection security of the config to opts:
// TLS (temporal.tls.*, with a client certificate for mTLS) and an API key
// (temporal.api_key, sent as a bearer credential on every call). The embedded server
// listens on loopback only and uses neither (docs/security.md).
func secureTemporal(cfg *config.Config, opts *client.Options) error {
	if cfg.Embedded() || !cfg.TemporalTLS() {
		return nil
	}
	tlsCfg, err := temporalTLSConfig(cfg)
	if err != nil {
		return err
	}
	opts.ConnectionOptions.TLS = tlsCfg
	if key := cfg.Temporal.APIKey.Value(); key != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(key)
	}
	return nil
}

// temporalTLSConfig builds the TLS configuration of the Temporal connection from the
// temporal.tls.* files.
func temporalTLSConfig(cfg *config.Config) (*tls.Config, error) {
	t := cfg.Temporal.TLS
	out := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if out.ServerName == "" {
		if host, _, err := net.SplitHostPort(cfg.Temporal.Address); err == nil {
			out.ServerName = host
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.cert_file/key_file: %w", err)
		}
		out.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.ca_file: %s holds no PEM certificate", t.CAFile)
		}
		out.RootCAs = pool
	}
	return out, nil
}
