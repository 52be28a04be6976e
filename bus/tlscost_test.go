package bus_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
)

// What mutual TLS costs the bus, measured against the same three
// nats-servers without it (Tandem has no multi-member bus without TLS, so
// these are bare servers: JetStream, routes and the client port with or
// without Tandem's TLS configurations, no authentication). The lab's
// failover figures always include TLS; these say how much of them it is:
//
//	go test -run '^$' -bench BenchmarkTLSCost -benchtime 2000x ./bus/
//
// KVUpdate is a compare-and-swap update of a key of a three-replica
// bucket, what acquiring or renewing a lease is (a client request, the
// stream leader's Raft round over the routes, the answer); a failover
// makes a few of them. Connect is a new client connection and its first
// round trip: a reconnect after a fault pays the handshake once.
func BenchmarkTLSCost(b *testing.B) {
	for _, withTLS := range []bool{false, true} {
		name := "plain"
		if withTLS {
			name = "tls"
		}
		top := bustest.Topology(b, []string{"holly", "benji"}, "director")
		urls := startBareCluster(b, top, withTLS)
		var clientTLS *tls.Config
		if withTLS {
			c, k, ca := top.TLS.Files(bus.AdminIdentity)
			mat, err := bus.LoadMaterial(c, k, ca)
			if err != nil {
				b.Fatal(err)
			}
			clientTLS = bus.ClientTLS(mat, top)
		}
		connect := func() *nats.Conn {
			opts := []nats.Option{nats.Timeout(5 * time.Second)}
			if clientTLS != nil {
				opts = append(opts, nats.Secure(clientTLS))
			}
			nc, err := nats.Connect(urls[0], opts...)
			if err != nil {
				b.Fatal(err)
			}
			return nc
		}
		b.Run(name+"/KVUpdate", func(b *testing.B) {
			nc := connect()
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var kv jetstream.KeyValue
			// The meta leader is elected once all three have routed (a
			// request made before may never be answered: retried).
			for kv == nil {
				cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
				kv, err = js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: "cost", Replicas: 3, Storage: jetstream.MemoryStorage})
				ccancel()
				if err != nil {
					if ctx.Err() != nil {
						b.Fatalf("creating the bucket: %v", err)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			rev, err := kv.Put(ctx, "lease", []byte("holder"))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if rev, err = kv.Update(ctx, "lease", []byte("holder"), rev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/Connect", func(b *testing.B) {
			for range b.N {
				nc := connect()
				if err := nc.Flush(); err != nil {
					b.Fatal(err)
				}
				nc.Close()
			}
		})
	}
}

// startBareCluster starts top's members as bare nats-servers, routed
// together, with Tandem's TLS configurations (withTLS) or none, and
// returns their client URLs.
func startBareCluster(tb testing.TB, top *bus.Topology, withTLS bool) []string {
	tb.Helper()
	var urls []string
	for _, me := range top.Members {
		opts := &server.Options{
			ServerName: me.Name, Host: me.Address, Port: me.ClientPort, NoSigs: true, NoLog: true,
			JetStream: true, StoreDir: filepath.Join(tb.TempDir(), me.Name),
			Cluster: server.ClusterOpts{Name: top.Cluster, Host: me.Address, Port: me.ClusterPort, ConnectRetries: -1},
		}
		if withTLS {
			mat, err := top.LoadMaterialFor(me.Name)
			if err != nil {
				tb.Fatal(err)
			}
			opts.TLSConfig, opts.Cluster.TLSConfig = top.TLSConfigs(mat, me.Name)
			opts.TLSVerify, opts.TLSTimeout, opts.Cluster.TLSTimeout = true, 2, 2
		}
		for _, m := range top.Members {
			if m.Name != me.Name {
				opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: m.Address + ":" + strconv.Itoa(m.ClusterPort)})
			}
		}
		ns, err := server.NewServer(opts)
		if err != nil {
			tb.Fatal(err)
		}
		go ns.Start()
		tb.Cleanup(ns.Shutdown)
		if !ns.ReadyForConnections(10 * time.Second) {
			tb.Fatalf("%s not ready", me.Name)
		}
		scheme := "nats"
		if withTLS {
			scheme = "tls"
		}
		urls = append(urls, fmt.Sprintf("%s://%s:%d", scheme, me.Address, me.ClientPort))
	}
	return urls
}
