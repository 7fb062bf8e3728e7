package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/mahavishnu/mahavishnu/config"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by the CA.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestTemporalClientPresentsCertAndAPIKey dials a local gRPC server over mTLS with the
// client options built from temporal.tls.* and temporal.api_key: the server sees the
// client certificate and the API key, and the client verified the server with the CA
// file and server name.
func TestTemporalClientPresentsCertAndAPIKey(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	serverCert, serverKey := ca.issue(t, "temporal.test", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "mahavishnu-worker", x509.ExtKeyUsageClientAuth)
	pair, err := tls.X509KeyPair(serverCert, serverKey)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	type seen struct {
		cn, authorization string
	}
	calls := make(chan seen, 16)
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			var s seen
			if p, ok := peer.FromContext(stream.Context()); ok {
				if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
					s.cn = info.State.PeerCertificates[0].Subject.CommonName
				}
			}
			if md, ok := metadata.FromIncomingContext(stream.Context()); ok && len(md.Get("authorization")) > 0 {
				s.authorization = md.Get("authorization")[0]
			}
			select {
			case calls <- s:
			default:
			}
			return status.Error(codes.Unimplemented, "not a Temporal server")
		}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	cfg := config.Default()
	cfg.Temporal.Address = ln.Addr().String()
	cfg.Temporal.APIKey = "k3y"
	cfg.Temporal.TLS = config.TemporalTLSConfig{CertFile: write("client.pem", clientCert), KeyFile: write("client.key", clientKey),
		CAFile: write("ca.pem", ca.pem), ServerName: "temporal.test"}
	require.NoError(t, cfg.Validate())

	opts := client.Options{HostPort: cfg.Temporal.Address, Namespace: "default"}
	require.NoError(t, secureTemporal(cfg, &opts))
	require.NotNil(t, opts.ConnectionOptions.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err == nil {
		c.Close()
	}
	// The dial fails (this is no Temporal server), but only after the call reached it.
	got := <-calls
	require.Equal(t, "mahavishnu-worker", got.cn, "the client certificate was presented")
	require.Equal(t, "Bearer k3y", got.authorization, "the API key was sent")

	// Without the client certificate the server refuses the handshake: nothing arrives.
	cfg.Temporal.TLS.CertFile, cfg.Temporal.TLS.KeyFile = "", ""
	opts = client.Options{HostPort: cfg.Temporal.Address, Namespace: "default"}
	require.NoError(t, secureTemporal(cfg, &opts))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	_, err = client.DialContext(ctx2, opts)
	require.Error(t, err)
	require.Empty(t, calls, "no call got through without the client certificate")

	// A wrong server name fails verification.
	cfg.Temporal.TLS = config.TemporalTLSConfig{CAFile: write("ca2.pem", ca.pem), ServerName: "other.test"}
	tc, err := temporalTLSConfig(cfg)
	require.NoError(t, err)
	require.Equal(t, "other.test", tc.ServerName)
	_, err = temporalTLSConfig(&config.Config{Temporal: config.TemporalConfig{Address: "x:1", TLS: config.TemporalTLSConfig{CAFile: write("bad.pem", []byte("nope"))}}})
	require.ErrorContains(t, err, "temporal.tls.ca_file")
}
