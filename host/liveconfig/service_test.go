package liveconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// serviceCluster is a TLS cluster of two nodes and a witness whose nodes
// serve configuration writes, seeded by holly; admin is a client store
// with the admin certificate.
type serviceCluster struct {
	*bustest.Cluster
	holly *Store // holly's own, in-process
	admin *Store
	model *cib.CIB
}

func startService(t *testing.T) *serviceCluster {
	t.Helper()
	top := bustest.Topology(t, []string{"holly", "benji"}, "director")
	c := bustest.Start(t, top)
	ctx := context.Background()
	sc := &serviceCluster{Cluster: c}
	for _, n := range []string{"holly", "benji"} {
		conn := c.Ready(n)
		stop, err := Serve(conn, n, bustest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		if n == "holly" {
			if sc.holly, err = Open(ctx, conn); err != nil {
				t.Fatal(err)
			}
		}
	}
	f, err := config.Load("../../e2e/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	sc.model = f.CIB
	if _, _, _, err := sc.holly.Seed(ctx, sc.model, "holly", false); err != nil {
		t.Fatal(err)
	}
	sc.admin = sc.client(t, bus.AdminIdentity)
	return sc
}

// client is a client store over the network with identity's certificate.
func (sc *serviceCluster) client(t *testing.T, identity string) *Store {
	t.Helper()
	conn, err := sc.ConnectAs("benji", identity)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenClient(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addLocation(id string) func(*cib.CIB) (string, error) {
	return func(c *cib.CIB) (string, error) {
		c.Locations = append(c.Locations, cib.Location{ID: id, Rsc: "VIP-198.18.0.23", Node: "holly", Score: 5})
		return "add " + id, nil
	}
}

// An admin's revision says who made it as the bus authenticated it,
// whatever `by` it claims; the host stays its claim.
func TestWriteServiceStampsTheIdentity(t *testing.T) {
	sc := startService(t)
	ctx := context.Background()
	cur, err := sc.admin.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := *cur.CIB
	next.Locations = append(append([]cib.Location(nil), next.Locations...), cib.Location{ID: "forged", Rsc: "VIP-198.18.0.23", Node: "benji", Score: 5})
	r, err := sc.admin.Put(ctx, &next, cur.Rev, "holly@elsewhere", "claims to be holly")
	if err != nil {
		t.Fatal(err)
	}
	if r.By != "admin@elsewhere" {
		t.Errorf("Put answered by %q, want admin@elsewhere", r.By)
	}
	hist, err := sc.holly.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.Rev != r.Rev || last.By != "admin@elsewhere" || last.Summary != "claims to be holly" {
		t.Errorf("history's last revision: %d by %q (%q); want %d by admin@elsewhere", last.Rev, last.By, last.Summary, r.Rev)
	}
	// A request written by hand, with a `by` of its own, gets the same.
	req := fmt.Sprintf(`{"base":%d,"by":"holly","host":"h","summary":"raw","cib":%s}`, r.Rev, mustJSON(t, cur.CIB))
	a := sc.ask(t, sc.admin, bus.SubjectConfigWrite(bus.AdminIdentity), req)
	if a.Error != "" || a.By != "admin@h" {
		t.Fatalf("a raw request claiming holly: %+v, want written by admin@h", a)
	}
	// A second admin identity is told apart.
	if err := bus.Issue(sc.Topology.TLS.Dir, bus.Identity{Role: bus.RoleAdmin, Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	alice := sc.client(t, "alice")
	r, err = alice.Update(ctx, "alice@laptop", addLocation("by-alice"))
	if err != nil || r.By != "alice@laptop" {
		t.Fatalf("alice's edit: %+v, %v; want by alice@laptop", r, err)
	}
	// Rollback and reseed go through the service too.
	r, err = sc.admin.Rollback(ctx, hist[0].Rev, "admin@x")
	if err != nil || r.By != "admin@x" || r.Summary != fmt.Sprintf("rollback to revision %d", hist[0].Rev) {
		t.Fatalf("rollback: %+v, %v", r, err)
	}
	r, err = sc.admin.Reseed(ctx, sc.model, "mallory@y", "cluster.toml")
	if err != nil || r.By != "admin@y" {
		t.Fatalf("reseed: %+v, %v; want by admin@y", r, err)
	}
	if cur, err := sc.holly.Current(ctx); err != nil || cur.Rev != r.Rev || cur.By != "admin@y" || cur.Summary != "re-seeded from cluster.toml" {
		t.Fatalf("after the reseed: %+v, %v", cur, err)
	}
}

// ask sends a raw write request as store's connection and returns the
// answer.
func (sc *serviceCluster) ask(t *testing.T, s *Store, subject, req string) writeReply {
	t.Helper()
	msg, err := s.conn.NC.Request(subject, []byte(req), 10*time.Second)
	if err != nil {
		t.Fatalf("request on %s: %v", subject, err)
	}
	var a writeReply
	if err := json.Unmarshal(msg.Data, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Neither another identity's write subject nor the service as a member,
// the witness or a monitor writes anything; nor does an admin's direct
// write to the bucket.
func TestWriteServiceRefusesOthers(t *testing.T) {
	sc := startService(t)
	ctx := context.Background()
	before, err := sc.holly.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"base":%d,"host":"h","summary":"forged","cib":%s}`, before.Rev, mustJSON(t, before.CIB))
	for _, tr := range []struct{ id, subject string }{
		{bus.AdminIdentity, bus.SubjectConfigWrite("alice")},
		{"benji", bus.SubjectConfigWrite("benji")},
		{"benji", bus.SubjectConfigWrite(bus.AdminIdentity)},
		{"director", bus.SubjectConfigWrite("director")},
		{bustest.Monitor, bus.SubjectConfigWrite(bustest.Monitor)},
		{bustest.Monitor, bus.SubjectConfigWrite(bus.AdminIdentity)},
	} {
		conn, err := sc.ConnectAs("holly", tr.id)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 4)
		conn.NC.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
		_, err = conn.NC.Request(tr.subject, []byte(body), 2*time.Second)
		if err == nil {
			t.Errorf("%s on %s: answered", tr.id, tr.subject)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("%s on %s: %v, want a permission violation", tr.id, tr.subject, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s on %s: no permission violation", tr.id, tr.subject)
		}
		// A client store of such an identity says why it cannot write.
		if tr.id != bus.AdminIdentity && tr.subject == bus.SubjectConfigWrite(tr.id) {
			s, err := OpenClient(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = s.Put(wctx, before.CIB, before.Rev, tr.id, "as "+tr.id)
			cancel()
			if !errors.Is(err, ErrNoWriter) || !strings.Contains(err.Error(), "not an admin identity") {
				t.Errorf("%s's client store: %v, want refused as not an admin", tr.id, err)
			}
		}
	}
	// The admin's own connection, straight to the bucket.
	kv, err := sc.admin.conn.KV(ctx, bus.BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = kv.Update(wctx, Key, []byte(`{"format":2,"by":"holly","summary":"direct"}`), before.Rev)
	cancel()
	if err == nil {
		t.Error("the admin wrote the configuration bucket directly")
	}
	if after, err := sc.holly.Current(ctx); err != nil || after.Rev != before.Rev {
		t.Fatalf("the configuration changed: %+v, %v; want revision %d", after, err, before.Rev)
	}
}

// A model the CLI would not send (invalid, oversized, malformed) sent
// straight to the service is refused and nothing stored changes.
func TestWriteServiceValidates(t *testing.T) {
	sc := startService(t)
	ctx := context.Background()
	before, err := sc.holly.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	subject := bus.SubjectConfigWrite(bus.AdminIdentity)
	for _, tr := range []struct{ name, req, want string }{
		{"invalid model", fmt.Sprintf(`{"base":%d,"host":"h","summary":"x","cib":{"nodes":[{"name":"holly\nbenji"}]}}`, before.Rev), "control character"},
		{"no model", fmt.Sprintf(`{"base":%d,"host":"h","summary":"x"}`, before.Rev), "no cluster model"},
		{"malformed", `{"base":`, "malformed write request"},
		{"oversized", `{"summary":"` + strings.Repeat("x", MaxRecordSize) + `"}`, "MaxRecordSize"},
		{"deep", `{"cib":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000) + `}`, "malformed write request"},
		{"host with a newline", fmt.Sprintf(`{"base":%d,"host":"h\nforged","summary":"x","cib":%s}`, before.Rev, mustJSON(t, before.CIB)), "control character"},
	} {
		a := sc.ask(t, sc.admin, subject, tr.req)
		text := a.Error
		if a.Problems != nil {
			text = a.Problems.Error()
		}
		if a.Rev != 0 || !strings.Contains(text, tr.want) {
			t.Errorf("%s: answered %+v; want refused with %q", tr.name, a, tr.want)
		}
	}
	if after, err := sc.holly.Current(ctx); err != nil || after.Rev != before.Rev {
		t.Fatalf("the configuration changed: %+v, %v; want revision %d", after, err, before.Rev)
	}
}

// Concurrent admins through the service lose nothing: a stale base is a
// conflict, which Update retries.
func TestWriteServiceConflictsRetried(t *testing.T) {
	sc := startService(t)
	ctx := context.Background()
	cur, err := sc.admin.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.admin.Update(ctx, "admin@a", addLocation("first")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.admin.Put(ctx, cur.CIB, cur.Rev, "admin@a", "stale"); !errors.Is(err, bus.ErrConflict) {
		t.Fatalf("a write on a stale revision: %v, want a conflict", err)
	}
	other := sc.client(t, bus.AdminIdentity)
	var wg sync.WaitGroup
	for k, s := range []*Store{sc.admin, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				if _, err := s.Update(ctx, "admin@a", addLocation(fmt.Sprintf("loc-%d-%d", k, i))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	now, err := sc.holly.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(now.CIB.Locations) - len(cur.CIB.Locations); n != 17 {
		t.Errorf("%d locations added by 17 edits through the service", n)
	}
}

// With no member daemon serving writes, a write says so at once.
func TestWriteWithoutService(t *testing.T) {
	top := bustest.Topology(t, []string{"holly", "benji"}, "director")
	c := bustest.Start(t, top)
	conn := c.Ready("holly")
	ctx := context.Background()
	own, err := Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Load("../../e2e/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := own.Seed(ctx, f.CIB, "holly", false); err != nil {
		t.Fatal(err)
	}
	aconn, err := c.ConnectAs("benji", bus.AdminIdentity)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenClient(ctx, aconn)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Update(ctx, "admin@h", addLocation("x"))
	if !errors.Is(err, ErrNoWriter) || !strings.Contains(err.Error(), "tandem.config.write.admin") || !strings.Contains(err.Error(), "daemon") {
		t.Fatalf("a write without a service: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the write took %s to fail", d)
	}
	if _, _, _, err := s.Seed(ctx, f.CIB, "admin", false); err == nil {
		t.Error("a client store seeded")
	}
}

// A development bus without TLS has one client identity, cli: the
// service stamps it, and its direct writes are refused as an admin's.
func TestWriteServiceDevelopmentBus(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Ready("solo")
	stop, err := Serve(conn, "solo", bustest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	own, err := Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Load("../../e2e/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := own.Seed(ctx, f.CIB, "solo", false); err != nil {
		t.Fatal(err)
	}
	cli, err := c.ConnectAs("solo", "")
	if err != nil {
		t.Fatal(err)
	}
	if id := cli.Identity(); id.Name != bus.DevIdentity {
		t.Fatalf("the development client is %v, want %s", id, bus.DevIdentity)
	}
	s, err := OpenClient(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Update(ctx, "holly@laptop", addLocation("dev"))
	if err != nil || r.By != "cli@laptop" {
		t.Fatalf("a development client's edit: %+v, %v; want by cli@laptop", r, err)
	}
	kv, err := cli.KV(ctx, bus.BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := kv.Update(wctx, Key, []byte(`{}`), r.Rev); err == nil {
		t.Error("the development client wrote the bucket directly")
	}
}
