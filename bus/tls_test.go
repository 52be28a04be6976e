package bus_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	. "github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
)

// A multi-member bus runs mutual TLS: a client with the admin certificate
// gets in over the network, one without a certificate does not.
func TestTLSForClientsAndRoutes(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	c := tc.ready("holly") // quorum over TLS routes
	if _, err := c.KV(context.Background(), BucketConfig); err != nil {
		t.Fatal(err)
	}
	admin, err := tc.ConnectAs("benji", AdminIdentity)
	if err != nil {
		t.Fatalf("admin client refused: %v", err)
	}
	if id := admin.Identity(); id != (Identity{Role: RoleAdmin, Name: AdminIdentity}) {
		t.Errorf("identity %v", id)
	}
	// Plaintext, even with the cluster secret's nkey, is refused.
	kp, _ := ClientKey(tc.Secret)
	pub, _ := kp.PublicKey()
	if plain, err := nats.Connect(cfg.ClientURLs()[0], nats.Nkey(pub, kp.Sign), nats.MaxReconnects(0), nats.Timeout(time.Second)); err == nil {
		plain.Close()
		t.Fatal("a plaintext client was accepted by a TLS bus")
	}
	// TLS with the right CA but no client certificate is refused.
	m, _ := cfg.LoadMaterialFor(AdminIdentity)
	tcfg := ClientTLS(m, cfg)
	tcfg.Certificates = nil
	if anon, err := nats.Connect(cfg.ClientURLs()[0], nats.Secure(tcfg), nats.MaxReconnects(0), nats.Timeout(time.Second)); err == nil {
		anon.Close()
		t.Fatal("a client without a certificate was accepted")
	}
}

// lineLog collects a nats-server's log lines.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(format string, v ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
	l.mu.Unlock()
}
func (l *lineLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}
func (l *lineLog) Noticef(f string, v ...any) { l.add(f, v...) }
func (l *lineLog) Warnf(f string, v ...any)   { l.add(f, v...) }
func (l *lineLog) Fatalf(f string, v ...any)  { l.add(f, v...) }
func (l *lineLog) Errorf(f string, v ...any)  { l.add(f, v...) }
func (l *lineLog) Debugf(f string, v ...any)  { l.add(f, v...) }
func (l *lineLog) Tracef(f string, v ...any)  {}

// A rogue nats-server that has everything but a member's certificate
// (addresses, the cluster name, the cluster secret, the CA certificate, and
// a certificate of the wrong kind or from another CA) cannot route to the
// members.
func TestRogueServerCannotJoin(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	tc.ready("holly")
	pki := cfg.TLS.Dir

	// Another CA, with a certificate that claims to be benji.
	other := t.TempDir()
	if err := InitCA(other, cfg.Cluster); err != nil {
		t.Fatal(err)
	}
	if err := Issue(other, Identity{Role: RoleMember, Name: "benji"}); err != nil {
		t.Fatal(err)
	}
	// The real CA, but not a member's certificate.
	if err := Issue(pki, Identity{Role: RoleMember, Name: "mallory"}); err != nil {
		t.Fatal(err)
	}
	routePass := fmt.Sprintf("%x", tc.Secret) // a password, too: it must not help
	cases := []struct{ name, dir, cert string }{
		{"admin certificate as a route", pki, AdminIdentity},
		{"monitor certificate as a route", pki, bustest.Monitor},
		{"member certificate of an unconfigured name", pki, "mallory"},
		{"benji's name from another CA", other, "benji"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cert, err := tls.LoadX509KeyPair(filepath.Join(c.dir, c.cert+".crt"), filepath.Join(c.dir, c.cert+".key"))
			if err != nil {
				t.Fatal(err)
			}
			port := freePorts(t, 2)
			opts := &server.Options{ServerName: "rogue-" + c.cert, Host: "127.0.0.1", Port: port[0], NoSigs: true,
				Cluster: server.ClusterOpts{Name: cfg.Cluster, Host: "127.0.0.1", Port: port[1], ConnectRetries: 1000,
					TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, TLSTimeout: 2}}
			for _, m := range cfg.Members {
				opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", User: url.UserPassword("tandem-route", routePass),
					Host: net.JoinHostPort(m.Address, strconv.Itoa(m.ClusterPort))})
			}
			rogue, err := server.NewServer(opts)
			if err != nil {
				t.Fatal(err)
			}
			log := &lineLog{}
			rogue.SetLoggerV2(log, true, false, false)
			go rogue.Start()
			t.Cleanup(rogue.Shutdown)
			// Each member has refused the rogue a few times over...
			poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
				if n := log.count("connection closed"); n < 2*len(cfg.Members) {
					return fmt.Errorf("%d refused routes so far", n)
				}
				return nil
			})
			// ...and no member routes to it (judged from the members'
			// side: the rogue may count a route for the instant between
			// its handshake and the member's refusal).
			for name, s := range tc.Servers {
				if cz, _ := s.NATS().Routez(nil); cz != nil {
					for _, r := range cz.Routes {
						if strings.HasPrefix(r.RemoteName, "rogue") {
							t.Errorf("%s routes to %s", name, r.RemoteName)
						}
					}
				}
			}
		})
	}
}

// What anyone on the network gets from a member's client and route ports
// before showing a certificate: an INFO that requires TLS, and nothing
// secret. A member soliciting a route speaks TLS first, sending no
// password to whoever listens on a peer's address.
func TestPlainTCPGetsNoSecret(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := &testCluster{bustest.Start(t, cfg)}
	tc.ready("holly")
	holly, _ := cfg.Member("holly")
	dial := func(port int) net.Conn {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(holly.Address, strconv.Itoa(port)), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		return conn
	}
	secrets := []string{fmt.Sprintf("%x", tc.Secret), "pass", "tandem-route", "tandem-local"}
	// The client port: an INFO that requires TLS.
	conn := dial(holly.ClientPort)
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil {
		t.Fatalf("client port: %v", err)
	}
	var info struct {
		TLSRequired bool `json:"tls_required"`
	}
	if !strings.HasPrefix(line, "INFO ") || json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &info) != nil {
		t.Fatalf("client port sent %q", line)
	}
	if !info.TLSRequired {
		t.Errorf("client port does not require TLS: %s", line)
	}
	for _, secret := range secrets {
		if strings.Contains(line, secret) {
			t.Errorf("client port leaks %q: %s", secret, line)
		}
	}
	// The route port speaks TLS first: a plaintext CONNECT gets no INFO,
	// no plaintext at all, and the connection closed.
	conn = dial(holly.ClusterPort)
	fmt.Fprintf(conn, "CONNECT {\"user\":\"tandem-route\",\"pass\":\"guess\"}\r\nPING\r\n")
	got, err := io.ReadAll(conn)
	conn.Close()
	if err != nil {
		t.Fatalf("route port: %v (want it closed)", err)
	}
	if len(got) > 0 && got[0] != 0x15 { // at most a TLS alert record
		t.Errorf("route port answered plaintext with %q", got)
	}
	for _, secret := range secrets {
		if strings.Contains(string(got), secret) {
			t.Errorf("route port leaks %q: %q", secret, got)
		}
	}

	// Pose as director's route port, without TLS, and see what benji sends.
	tc.StopMember("director")
	dir, _ := cfg.Member("director")
	l, err := net.Listen("tcp", net.JoinHostPort(dir.Address, strconv.Itoa(dir.ClusterPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err = l.Accept() // benji or holly retrying the route
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "INFO {\"server_id\":\"NFAKE\",\"name\":\"director\",\"cluster\":%q,\"tls_required\":false}\r\n", cfg.Cluster)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading what a member sends: %v", err)
	}
	sent := string(buf[:n])
	if buf[0] != 0x16 { // a TLS handshake record
		t.Errorf("a member soliciting a route sent %q, not a TLS handshake", sent)
	}
	if strings.Contains(sent, "CONNECT") || strings.Contains(sent, "pass") {
		t.Errorf("a member soliciting a route sent %q", sent)
	}
}

// permissionErrors connects as identity over the network, collecting the
// server's permission violations.
func connectCollecting(t *testing.T, tc *testCluster, member, identity string) (*Conn, chan error) {
	t.Helper()
	c, err := tc.ConnectAs(member, identity)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	c.NC.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	})
	return c, errs
}

func TestNodeCannotPublishOtherHeartbeat(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	seen := make(chan string, 16)
	sub, err := holly.NC.Subscribe(SubjectHeartbeats, func(m *nats.Msg) { seen <- m.Subject })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := holly.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	benji, errs := connectCollecting(t, tc, "holly", "benji")
	// Forged first, own second: one connection's messages keep their
	// order, so a delivered forgery would arrive first.
	if err := benji.NC.Publish(SubjectHeartbeat("holly"), []byte("forged")); err != nil {
		t.Fatal(err)
	}
	if err := benji.NC.Publish(SubjectHeartbeat("benji"), []byte("own")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-seen:
		if s != SubjectHeartbeat("benji") {
			t.Fatalf("benji's identity published on %s", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("benji's own heartbeat never arrived")
	}
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("error %v, want a permission violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no permission violation reported")
	}
}

func TestOnlyMembersWriteConfig(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	ctx := context.Background()
	for _, id := range []string{"benji", "director", bustest.Monitor} {
		c, _ := connectCollecting(t, tc, "holly", id)
		kv, err := c.KV(ctx, BucketConfig)
		if err != nil {
			t.Fatalf("%s cannot even read the config bucket: %v", id, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = kv.Put(wctx, "forged", []byte("x"))
		cancel()
		if err == nil {
			t.Errorf("%s wrote the configuration", id)
		}
	}
	// Nor can the admin: its revisions are written by a member's daemon
	// (liveconfig.Serve), which stamps them with its identity.
	admin, errs := connectCollecting(t, tc, "benji", AdminIdentity)
	kv, err := admin.KV(ctx, BucketConfig)
	if err != nil {
		t.Fatalf("the admin cannot read the configuration bucket: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = kv.Put(wctx, "edit", []byte("x"))
	cancel()
	if err == nil {
		t.Error("the admin wrote the configuration bucket directly")
	}
	if err := <-errs; !errors.Is(err, nats.ErrPermissionViolation) {
		t.Errorf("the admin's direct write: %v, want a permission violation", err)
	}
	// Nor remake, purge or cut the bucket's stream.
	for _, op := range []string{"UPDATE", "PURGE", "DELETE", "MSG.DELETE"} {
		if err := admin.NC.Publish("$JS.API.STREAM."+op+"."+StreamOfBucket(BucketConfig), []byte("{}")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("the admin's stream %s: %v, want a permission violation", op, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("the admin's stream %s was not refused", op)
		}
	}
	hkv, err := holly.KV(ctx, BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"forged", "edit"} {
		if _, err := hkv.Get(ctx, key); err == nil {
			t.Errorf("a forged configuration key %q is in the bucket", key)
		}
	}
	// The admin cannot write a lease.
	leases, err := admin.KV(ctx, BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := leases.Put(wctx, "rsc.VIP", []byte("admin")); err == nil {
		t.Error("the admin wrote a lease")
	}
}

// An identity may ask for configuration writes only on its own name's
// subject, and only an admin may ask at all: the subject a member's write
// service gets a request on names who sent it.
func TestConfigWriteSubjectIsTheIdentitys(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	if err := Issue(cfg.TLS.Dir, Identity{Role: RoleAdmin, Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	seen := make(chan string, 16)
	sub, err := holly.NC.Subscribe(SubjectConfigWrites, func(m *nats.Msg) { seen <- m.Subject })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := holly.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []struct {
		id     string
		forged []string
		own    bool // may publish on its own subject
	}{
		{AdminIdentity, []string{SubjectConfigWrite("alice")}, true},
		{"alice", []string{SubjectConfigWrite(AdminIdentity)}, true},
		{"benji", []string{SubjectConfigWrite("benji"), SubjectConfigWrite(AdminIdentity)}, false},
		{"director", []string{SubjectConfigWrite("director"), SubjectConfigWrite(AdminIdentity)}, false},
		{bustest.Monitor, []string{SubjectConfigWrite(bustest.Monitor), SubjectConfigWrite(AdminIdentity)}, false},
	} {
		c, errs := connectCollecting(t, tc, "benji", tr.id)
		// Forged first: one connection's messages keep their order.
		for _, subj := range tr.forged {
			if err := c.NC.Publish(subj, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errs:
				if !errors.Is(err, nats.ErrPermissionViolation) {
					t.Errorf("%s publishing on %s: %v, want a permission violation", tr.id, subj, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s publishing on %s was not refused", tr.id, subj)
			}
		}
		if !tr.own {
			continue
		}
		if err := c.NC.Publish(SubjectConfigWrite(tr.id), []byte("{}")); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-seen:
			if s != SubjectConfigWrite(tr.id) {
				t.Errorf("%s's identity published on %s", tr.id, s)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s's request on its own write subject never arrived", tr.id)
		}
	}
	// Every publish that arrived was checked above; nothing else came.
	if err := holly.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-seen:
		t.Errorf("a refused publish arrived on %s", s)
	default:
	}
}

// Re-issuing a member's certificate and restarting the member with it keeps
// the bus's quorum and its keys.
func TestCertificateRotation(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	ctx := context.Background()
	kv, err := holly.KV(ctx, BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Create(ctx, "rsc.VIP", []byte("holly"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := cfg.LoadMaterialFor("benji")
	if err := Issue(cfg.TLS.Dir, Identity{Role: RoleMember, Name: "benji"}); err != nil {
		t.Fatal(err)
	}
	after, _ := cfg.LoadMaterialFor("benji")
	if before.Cert.Leaf.SerialNumber.Cmp(after.Cert.Leaf.SerialNumber) == 0 {
		t.Fatal("the certificate was not replaced")
	}
	tc.StopMember("benji")
	// Two voters of three keep writing while benji restarts.
	if _, err := kv.Update(ctx, "rsc.VIP", []byte("holly"), rev); err != nil {
		t.Fatalf("no quorum while benji restarts: %v", err)
	}
	tc.StartMember("benji")
	// Twice in `make test`'s race suite, Ready gave up here ("KV buckets:
	// bus has no quorum") after its minute, then after 3: EnsureBuckets
	// waited for one lost answer until its context ended. It now asks
	// again (TestEnsureBucketsAsksAgainWhenAnAnswerIsLost).
	benji := tc.ReadyWithin("benji", 3*time.Minute)
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		for name, s := range tc.Servers {
			if n := s.NATS().NumRoutes(); n < 2 {
				return fmt.Errorf("%s has %d routes", name, n)
			}
		}
		return nil
	})
	bkv, err := benji.KV(ctx, BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		e, err := bkv.Get(ctx, "rsc.VIP")
		if err != nil {
			return err
		}
		if string(e.Value()) != "holly" || e.Revision() <= rev {
			return fmt.Errorf("lease is %q at %d", e.Value(), e.Revision())
		}
		return nil
	})
	// The rotated member's server presents the new certificate.
	admin, err := tc.ConnectAs("benji", AdminIdentity)
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
}

// A member's read-only in-process connection (its status page's) reads
// the buckets and asks for the nodes' state, as a monitor certificate
// does, and may write nothing: not the configuration, not a lease, not a
// heartbeat.
func TestReadOnlyInProcessConnection(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	ctx := context.Background()
	if kv, err := holly.KV(ctx, BucketConfig); err != nil {
		t.Fatal(err)
	} else if _, err := kv.Put(ctx, "seen", []byte("by the daemon")); err != nil {
		t.Fatal(err)
	}
	ro, err := Connect(ConnectOptions{Topology: cfg, Name: "status-page", Server: tc.Servers["holly"], ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if id := ro.Identity(); id.Role != RoleMonitor || id.Name != "holly" {
		t.Errorf("identity %+v, want the monitor role for holly", id)
	}
	errs := make(chan error, 16)
	ro.NC.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	})
	kv, err := ro.KV(ctx, BucketConfig)
	if err != nil {
		t.Fatalf("the read-only connection cannot read the config bucket: %v", err)
	}
	if e, err := kv.Get(ctx, "seen"); err != nil || string(e.Value()) != "by the daemon" {
		t.Fatalf("reading the config bucket: %v", err)
	}
	for _, bucket := range []string{BucketConfig, BucketLeases, BucketState} {
		kv, err := ro.KV(ctx, bucket)
		if err != nil {
			t.Fatalf("%s: %v", bucket, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = kv.Put(wctx, "forged", []byte("x"))
		cancel()
		if err == nil {
			t.Errorf("the read-only connection wrote to %s", bucket)
		}
	}
	if err := ro.NC.Publish(SubjectHeartbeat("holly"), []byte("forged")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("error %v, want a permission violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no permission violation reported for a heartbeat from the read-only connection")
	}
	// A wrong in-process password is refused for this user too.
	if _, err := nats.Connect("", nats.InProcessServer(tc.Servers["holly"].NATS()), nats.UserInfo("tandem-local-monitor", "guess"), nats.NoReconnect()); err == nil {
		t.Error("a guessed password opened a read-only in-process connection")
	}
}

// Only admin identities may ask a voter to remove another from the
// JetStream meta group (tandem cluster remove-voter): a member, the
// witness and a monitor are refused the subject.
func TestOnlyAdminsMayRemoveVoters(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	seen := make(chan string, 16)
	sub, err := holly.NC.Subscribe(SubjectRemoveVoter("holly"), func(m *nats.Msg) { seen <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := holly.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"benji", "director", bustest.Monitor} {
		c, errs := connectCollecting(t, tc, "holly", id)
		if err := c.NC.Publish(SubjectRemoveVoter("holly"), []byte(id)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("%s: error %v, want a permission violation", id, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: no permission violation reported", id)
		}
	}
	admin, _ := connectCollecting(t, tc, "benji", AdminIdentity)
	if err := admin.NC.Publish(SubjectRemoveVoter("holly"), []byte(AdminIdentity)); err != nil {
		t.Fatal(err)
	}
	// The admin's request arrives, and it is the first: the others' were
	// refused (reported) before the admin published.
	select {
	case got := <-seen:
		if got != AdminIdentity {
			t.Fatalf("%s's request reached the voters", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the admin's request never arrived")
	}
}

// A node's own subjects carry its reports: tandem.state.NODE is what the
// coordinator plans from, tandem.node.NODE and tandem.log.NODE what
// `tandem events` shows of it. An admin may ask for the states and control
// a node, but not publish as one (it could publish a forged state of
// holly, "the database is stopped there", and have it started elsewhere
// too); and a member publishing on its own subject a report that names
// another node is dropped by bus.Subscribe.
func TestNoIdentityPublishesAsAnotherNode(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	seen := make(chan string, 64)
	sub, err := holly.NC.Subscribe(SubjectAll, func(m *nats.Msg) { seen <- m.Subject })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := holly.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	admin, errs := connectCollecting(t, tc, "benji", AdminIdentity)
	// Forgeries first, then what an admin may send: one connection's
	// messages keep their order, so a delivered forgery arrives first.
	forged := []string{SubjectState("holly"), SubjectNode("holly"), SubjectLog("holly")}
	for _, s := range forged {
		if err := admin.NC.Publish(s, []byte("forged")); err != nil {
			t.Fatal(err)
		}
	}
	allowed := []string{SubjectStateRequest, SubjectControl("nobody"), SubjectRefresh}
	for _, s := range allowed {
		if err := admin.NC.Publish(s, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range allowed {
		select {
		case s := <-seen:
			if s != want {
				t.Fatalf("the admin published on %s (want only %v to arrive, in that order)", s, allowed)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the admin's %s never arrived", want)
		}
	}
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("error %v, want a permission violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no permission violation reported")
	}

	// benji's identity, on its own subjects, naming holly: delivered by
	// the server (the subject is benji's), dropped by the subscriber.
	benji, _ := connectCollecting(t, tc, "holly", "benji")
	states := make(chan NodeResources, 16)
	subS, err := Subscribe(holly, SubjectStates, func(r NodeResources, _ Envelope) { states <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer subS.Unsubscribe()
	results := make(chan ActionResult, 16)
	subA, err := Subscribe(holly, SubjectActions, func(r ActionResult, _ Envelope) { results <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Unsubscribe()
	if err := holly.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []struct {
		ev      Event
		subject string
	}{
		{NodeResources{Node: "holly", Incarnation: "forged"}, SubjectState("benji")},
		{ActionResult{Node: "holly", Resource: "db", Op: "stop"}, SubjectAction("benji")},
		{NodeResources{Node: "benji", Incarnation: "own"}, SubjectState("benji")},
		{ActionResult{Node: "benji", Resource: "db", Op: "start"}, SubjectAction("benji")},
	} {
		data, err := Encode(ev.ev, "benji", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := benji.NC.Publish(ev.subject, data); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case r := <-states:
		if r.Node != "benji" {
			t.Fatalf("a state report on benji's subject naming %s was taken", r.Node)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("benji's own state report never arrived")
	}
	select {
	case r := <-results:
		if r.Node != "benji" {
			t.Fatalf("an action result on benji's subject naming %s was taken", r.Node)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("benji's own action result never arrived")
	}
}

// Of the state bucket, a member's identity writes only its own keys: its
// fail-counts and its status as coordinator; not another node's, not a
// ticket (admins grant them), not the key every coordinator shared before.
// The admin may write the others' (`resource cleanup`, `ticket grant`).
func TestMemberWritesOnlyItsOwnStateKeys(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	ctx := context.Background()
	benji, _ := connectCollecting(t, tc, "holly", "benji")
	kv, err := benji.KV(ctx, BucketState)
	if err != nil {
		t.Fatal(err)
	}
	put := func(kv *KV, key string) error {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := kv.Put(wctx, key, []byte(`{"forged":true}`))
		return err
	}
	for _, key := range []string{StateFailKey("db", "benji"), StateStatusKey("benji")} {
		if err := put(kv, key); err != nil {
			t.Errorf("benji cannot write its own %s: %v", key, err)
		}
	}
	others := []string{StateFailKey("db", "holly"), StateStatusKey("holly"), "ticket.t1", "status", "fail.db.benji.x"}
	for _, key := range others {
		if err := put(kv, key); err == nil {
			t.Errorf("benji's identity wrote %s", key)
		}
	}
	hkv, err := holly.KV(ctx, BucketState)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range others {
		if _, err := hkv.Get(ctx, key); err == nil {
			t.Errorf("%s is in the bucket", key)
		}
	}
	admin, _ := connectCollecting(t, tc, "benji", AdminIdentity)
	akv, err := admin.KV(ctx, BucketState)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{StateFailKey("db", "holly"), "ticket.t1"} {
		if err := put(akv, key); err != nil {
			t.Errorf("the admin cannot write %s: %v", key, err)
		}
	}
}
