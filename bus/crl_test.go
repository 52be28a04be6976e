package bus_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
)

// slogLines collects the messages (with their attributes) of a member's log.
type slogLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *slogLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *slogLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}
func (l *slogLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *slogLines) WithGroup(string) slog.Handler      { return l }
func (l *slogLines) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, s := range l.lines {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				continue next
			}
		}
		n++
	}
	return n
}

// rawClient connects to a member's client port with identity's certificate
// as it is on disk, whatever the revocation list says (a client that does
// not check its own certificate, as a thief's would not).
func rawClient(cfg *Topology, member, identity string) (*nats.Conn, error) {
	c, k, ca := cfg.TLS.Files(identity)
	cert, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		return nil, err
	}
	m, err := LoadMaterial(filepath.Join(cfg.TLS.Dir, "admin.crt"), filepath.Join(cfg.TLS.Dir, "admin.key"), ca)
	if err != nil {
		return nil, err
	}
	m.Cert = cert
	mem, _ := cfg.Member(member)
	return nats.Connect(mem.ClientURL(), nats.Secure(ClientTLS(m, cfg)), nats.NoReconnect(), nats.Timeout(2*time.Second))
}

// routesTo lists the members whose server routes to name.
func routesTo(servers map[string]*Server, name string) []string {
	var out []string
	for n, s := range servers {
		if rz, _ := s.NATS().Routez(nil); rz != nil {
			for _, r := range rz.Routes {
				if r.RemoteName == name {
					out = append(out, n)
					break
				}
			}
		}
	}
	return out
}

// A revoked certificate is refused on the client port and on routes, both
// ways, and by clients; a new revocation list is picked up while the
// members run, closing the connections it revokes; a corrupt list is
// refused, naming the file, and the previous one stays in force.
func TestRevocation(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	pki := cfg.TLS.Dir
	secret, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	logs := map[string]*slogLines{}
	servers := map[string]*Server{}
	t.Cleanup(func() {
		for _, s := range servers {
			s.Shutdown()
		}
	})
	for _, m := range cfg.Members {
		logs[m.Name] = &slogLines{}
		s, err := StartServer(ServerOptions{Topology: cfg, Member: m.Name, Secret: secret, Logger: slog.New(logs[m.Name])})
		if err != nil {
			t.Fatal(err)
		}
		servers[m.Name] = s
	}
	ctx := context.Background()
	holly, err := Connect(ConnectOptions{Topology: cfg, Name: "holly", Server: servers["holly"]})
	if err != nil {
		t.Fatal(err)
	}
	defer holly.Close()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := holly.WaitQuorum(wctx); err != nil {
		t.Fatal(err)
	}
	if err := servers["holly"].EnsureBuckets(wctx, holly); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if r := routesTo(servers, "benji"); len(r) != 2 {
			return fmt.Errorf("routes to benji from %v", r)
		}
		return nil
	})

	// A client with the monitor's certificate is connected; revoking it
	// closes that connection, and the certificate no longer gets in.
	mon, err := rawClient(cfg, "holly", bustest.Monitor)
	if err != nil {
		t.Fatalf("the monitor cannot connect before its revocation: %v", err)
	}
	defer mon.Close()
	res, err := Revoke(pki, bustest.Monitor)
	if err != nil {
		t.Fatal(err)
	}
	if res.Already || res.Identity != bustest.Monitor || res.File != filepath.Join(pki, "ca.crl") {
		t.Fatalf("revoke: %+v", res)
	}
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		if !mon.IsClosed() {
			return fmt.Errorf("the revoked monitor's connection is %v", mon.Status())
		}
		return nil
	})
	if logs["holly"].count("closed a client whose certificate is revoked", "monitor") == 0 {
		t.Error("holly did not log closing the monitor's connection")
	}
	if c, err := rawClient(cfg, "benji", bustest.Monitor); err == nil {
		st := c.ConnectedUrl()
		c.Close()
		t.Fatalf("a revoked client certificate connected to %s", st)
	}
	// The CLI refuses its own revoked certificate, naming the list.
	if _, err := cfg.LoadMaterialFor(bustest.Monitor); err == nil || !strings.Contains(err.Error(), "revoked by "+res.File) {
		t.Errorf("loading the revoked monitor certificate: %v", err)
	}
	// Other clients are untouched.
	if _, err := Connect(ConnectOptions{Topology: cfg, Identity: AdminIdentity, URLs: []string{mustMember(cfg, "holly").ClientURL()}}); err != nil {
		t.Fatalf("the admin was refused: %v", err)
	}

	// Revoking a member closes its routes, both those the others accepted
	// and those they made, and it stays cut off although it keeps trying.
	if _, err := Revoke(pki, "benji"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if r := routesTo(servers, "benji"); len(r) != 0 {
			return fmt.Errorf("%v still route to the revoked benji", r)
		}
		if n := servers["benji"].NATS().NumRoutes(); n != 0 {
			return fmt.Errorf("benji has %d routes", n)
		}
		return nil
	})
	for _, n := range []string{"holly", "director"} {
		if logs[n].count("closing routes whose certificate is revoked") > 0 || logs[n].count("unpinning the route keys") > 0 {
			t.Errorf("%s could not reload its route keys: %v", n, logs[n].lines)
		}
	}
	// It keeps trying; each try is refused for its revocation.
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if n := logs["holly"].count("is revoked by"); n < 2 {
			return fmt.Errorf("holly refused %d handshakes for a revocation", n)
		}
		if n := logs["director"].count("is revoked by"); n < 2 {
			return fmt.Errorf("director refused %d handshakes for a revocation", n)
		}
		return nil
	})
	if r := routesTo(servers, "benji"); len(r) != 0 {
		t.Fatalf("%v route to the revoked benji again", r)
	}
	// holly and director keep their route and the quorum (a new meta
	// leader, if benji led).
	if r := routesTo(servers, "director"); len(r) != 1 || r[0] != "holly" {
		t.Fatalf("routes to director from %v", r)
	}
	qctx, qcancel := context.WithTimeout(ctx, 60*time.Second)
	defer qcancel()
	if err := holly.WaitQuorum(qctx); err != nil {
		t.Fatal(err)
	}
	kv, err := holly.KV(qctx, BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	// The meta group has its quorum; the bucket's own stream may still be
	// electing a leader (benji led it): writes succeed once it has.
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		if _, err := kv.Put(ctx, "rsc.VIP", []byte("holly")); err != nil {
			return fmt.Errorf("no quorum without the revoked member: %w", err)
		}
		return nil
	})
	// A client refuses the revoked member's server.
	_, err = Connect(ConnectOptions{Topology: cfg, Identity: AdminIdentity, URLs: []string{mustMember(cfg, "benji").ClientURL()}})
	if err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a client connected to the revoked benji: %v", err)
	}

	// A corrupt list is refused, naming the file; the previous one stays.
	crl := filepath.Join(pki, "ca.crl")
	good, err := os.ReadFile(crl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crl, []byte("-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		if logs["holly"].count("revocation list refused", crl) == 0 {
			return errors.New("holly has not reported the corrupt list")
		}
		return nil
	})
	if c, err := rawClient(cfg, "holly", bustest.Monitor); err == nil {
		c.Close()
		t.Fatal("a corrupt list dropped the revocations in force")
	}
	if r := routesTo(servers, "benji"); len(r) != 0 {
		t.Fatalf("%v route to the revoked benji with a corrupt list", r)
	}
	if _, err := LoadRevocations(filepath.Join(pki, "ca.crt")); err == nil || !strings.Contains(err.Error(), crl) {
		t.Errorf("a corrupt list loads: %v", err)
	}
	// A list signed by another CA is refused too.
	other := t.TempDir()
	if err := InitCA(other, cfg.Cluster); err != nil {
		t.Fatal(err)
	}
	if err := Issue(other, Identity{Role: RoleAdmin, Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Revoke(other, "x"); err != nil {
		t.Fatal(err)
	}
	forged, _ := os.ReadFile(filepath.Join(other, "ca.crl"))
	if err := os.WriteFile(crl, forged, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRevocations(filepath.Join(pki, "ca.crt")); err == nil || !strings.Contains(err.Error(), "not signed by the cluster CA") {
		t.Errorf("a list of another CA loads: %v", err)
	}
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		if logs["holly"].count("not signed by the cluster CA", crl) == 0 {
			return errors.New("holly has not reported the forged list")
		}
		return nil
	})
	if c, err := rawClient(cfg, "holly", bustest.Monitor); err == nil {
		c.Close()
		t.Fatal("a forged list dropped the revocations in force")
	}
	// The good list back, revoking benji's re-issued certificate is not
	// needed: a new certificate routes again (after benji restarts).
	if err := os.WriteFile(crl, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Issue(pki, Identity{Role: RoleMember, Name: "benji"}); err != nil {
		t.Fatal(err)
	}
	servers["benji"].Shutdown()
	delete(servers, "benji")
	s, err := StartServer(ServerOptions{Topology: cfg, Member: "benji", Secret: secret, Logger: slog.New(logs["benji"])})
	if err != nil {
		t.Fatalf("benji with a new certificate: %v", err)
	}
	servers["benji"] = s
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if r := routesTo(servers, "benji"); len(r) != 2 {
			return fmt.Errorf("routes to the re-issued benji from %v", r)
		}
		return nil
	})
}

// A member whose own certificate is revoked does not start.
func TestRevokedMemberDoesNotStart(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	if _, err := Revoke(cfg.TLS.Dir, "benji"); err != nil {
		t.Fatal(err)
	}
	_, err := StartServer(ServerOptions{Topology: cfg, Member: "benji", Logger: quietLogger()})
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "revoked by "+filepath.Join(cfg.TLS.Dir, "ca.crl")) {
		t.Fatalf("a revoked member started: %v", err)
	}
}

func mustMember(cfg *Topology, name string) Member {
	m, _ := cfg.Member(name)
	return m
}
