package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/tandem-ha/tandem/bus"
)

// writeTestPKI writes a CA and one certificate for 127.0.0.1 signed by it,
// used by every member for both serving and as a client.
func writeTestPKI(t *testing.T) *TLS {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tandem test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "member"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return &TLS{CA: write("ca.pem", "CERTIFICATE", caDER), Cert: write("cert.pem", "CERTIFICATE", der), Key: write("key.pem", "EC PRIVATE KEY", keyDER)}
}

func TestTLSForClientsAndRoutes(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	cfg.TLS = writeTestPKI(t)
	tc := startCluster(t, cfg)
	c := tc.ready("holly") // quorum over TLS routes
	kv, err := c.KV(context.Background(), BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// A TLS client with the cluster key gets in over the network.
	nc, err := Connect(ConnectOptions{Topology: cfg, Secret: tc.Secret, Name: "tls-cli"})
	if err != nil {
		t.Fatalf("TLS client refused: %v", err)
	}
	nc.Close()
	// A plaintext client with the right key does not.
	kp, _ := ClientKey(tc.Secret)
	pub, _ := kp.PublicKey()
	if plain, err := nats.Connect(cfg.ClientURLs()[0], nats.Nkey(pub, kp.Sign), nats.MaxReconnects(0), nats.Timeout(time.Second)); err == nil {
		plain.Close()
		t.Fatal("a plaintext client was accepted by a TLS bus")
	}
}
