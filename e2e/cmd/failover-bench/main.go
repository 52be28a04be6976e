// Command failover-bench measures failover of the reference scenario in its
// own nspawn lab (prefix tdbench on 198.18.0.192/27): `make bench-failover`.
// (--faults freeze also freezes the whole holder for 5 s: every process
// stopped, its kernel alive; see docs/leases.md.)
//
// A client on the host starts one request to the VIP every 50 ms (0.5 s
// timeout each, at most 60 s per run). For each of --runs runs of "holder
// hard-killed" and "holder cut off" it reports (a) the time from the fault
// to the VIP present on the survivor, (b) to the first answer through the
// VIP, (c) to the point after which every request succeeds; for the witness
// kill, the failed requests. A safety checker samples every node's
// addresses every 20 ms throughout and counts instants with the VIP on two
// nodes. It also reports the cold start (lab booted to the VIP serving) and
// the resident memory of tandem and its plugins per node. Run as root
// after `make build`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

func main() {
	runs := flag.Int("runs", 5, "runs per fault")
	prefix := flag.String("prefix", "tdbench", "lab name prefix")
	subnet := flag.String("subnet", "198.18.0.192/27", "the lab's sub-range of 198.18.0.0/24")
	faults := flag.String("faults", "", "which faults to run: kill (holder hard-killed), cut (holder cut off), witness (witness hard-killed), freeze (every process of the holder stopped for 5 s), voter (a voter holding no VIP hard-killed), member (a node that does not vote hard-killed), haproxy (every HAProxy process on the holder killed -9: systemd restarts it in place; runs 60 s apart, systemd's start-limit interval); default kill,cut,witness,freeze with a witness, else kill,cut,voter and member where some node does not vote")
	vipAgent := flag.String("vip-agent", "vip", "the VIP's agent: vip (Tandem's), or ipaddr2 (Debian's ocf:heartbeat:IPaddr2 through the ocf bridge, the seed tutorial's agent)")
	topology := flag.String("topology", "reference", "the lab's members: reference (holly, benji, witness director), three (three nodes, no witness), five (five nodes, three of them voters)")
	leases := flag.String("leases", "bucket", "how the cluster keeps leases ([bus] leases): bucket (keys of the lease bucket), or grants (granted by a majority of the voters over core NATS: no stream leader needed)")
	settle := flag.Bool("settle", true, "before each fault, wait until the bus has been at rest for 2 s (bucket leaders on the witness, replicas current) besides the resources converged; false: fault as soon as the resources have converged, which right after a heal can cost a Raft election")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "failover-bench: run as root (it boots an nspawn lab)")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, ok := lab.Topologies[*topology]; !ok {
		fmt.Fprintf(os.Stderr, "failover-bench: --topology: unknown topology %q (reference, three, five)\n", *topology)
		os.Exit(2)
	}
	if *faults == "" {
		*faults = map[string]string{"reference": "kill,cut,witness,freeze", "three": "kill,cut,voter", "five": "kill,cut,voter,member"}[*topology]
	}
	want := map[string]bool{}
	for _, f := range strings.Split(*faults, ",") {
		switch f = strings.TrimSpace(f); f {
		case "kill", "cut", "witness", "freeze", "voter", "member", "haproxy":
			want[f] = true
		default:
			fmt.Fprintf(os.Stderr, "failover-bench: --faults: unknown fault %q (kill, cut, witness, freeze, voter, member, haproxy)\n", f)
			os.Exit(2)
		}
	}
	if want["witness"] && *topology != "reference" {
		fmt.Fprintf(os.Stderr, "failover-bench: --faults witness: the %s topology has no witness\n", *topology)
		os.Exit(2)
	}
	if want["member"] && *topology != "five" {
		fmt.Fprintf(os.Stderr, "failover-bench: --faults member: every node of the %s topology votes\n", *topology)
		os.Exit(2)
	}
	if *vipAgent != "vip" && *vipAgent != "ipaddr2" {
		fmt.Fprintf(os.Stderr, "failover-bench: --vip-agent: %q is neither vip nor ipaddr2\n", *vipAgent)
		os.Exit(2)
	}
	if err := run(ctx, *prefix, *subnet, *topology, *vipAgent, *leases, *runs, want, *settle); err != nil {
		fmt.Fprintln(os.Stderr, "failover-bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	ctx   context.Context
	l     *lab.Lab
	c     *scenario.Cluster
	split int // samples with the VIP on two nodes, over every run
	// settle: wait for the bus to be at rest before each fault (--settle).
	settle bool
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

func run(ctx context.Context, prefix, subnet, topology, vipAgent, leases string, runs int, want map[string]bool, settle bool) error {
	sn, err := netip.ParsePrefix(subnet)
	if err != nil {
		return fmt.Errorf("--subnet: %w", err)
	}
	opts, err := lab.Options{Prefix: prefix, Subnet: sn, Relocate: true, StartTandem: true, Logf: logf}.Defaults()
	if err != nil {
		return err
	}
	ref, err := os.ReadFile(opts.Config)
	if err != nil {
		return err
	}
	conf, err := lab.TopologyConfig(ref, topology)
	if err != nil {
		return err
	}
	if vipAgent == "ipaddr2" {
		if conf, err = lab.WithIPaddr2(conf, opts.Subnet.Bits()); err != nil {
			return err
		}
	}
	if conf, err = lab.WithLeases(conf, leases); err != nil {
		return fmt.Errorf("--leases: %w", err)
	}
	opts, remove, err := opts.WithConfig(conf)
	if err != nil {
		return err
	}
	defer remove()
	upCtx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	l, err := lab.Up(upCtx, opts)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if err := l.Down(); err != nil {
			logf("lab down: %v", err)
		}
	}()
	booted := time.Now()
	c, err := scenario.New(l)
	if err != nil {
		return err
	}
	b := &bench{ctx: ctx, l: l, c: c, settle: settle}
	// Cold start: from the lab booted to the first answer through the VIP.
	for {
		if _, err := c.Get(ctx, time.Second); err == nil {
			break
		}
		if time.Since(booted) > 2*time.Minute || ctx.Err() != nil {
			return fmt.Errorf("the VIP does not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cold := time.Since(booted)
	logf("cold start: lab booted to the VIP serving in %s", cold.Round(10*time.Millisecond))
	if cold > 5*time.Second {
		// Over the goal: keep the nodes' side of it.
		b.saveJournals("cold-start", fmt.Sprintf("cold start: lab booted to the VIP serving in %s", cold.Round(10*time.Millisecond)))
	}
	if err := b.converged(); err != nil {
		return err
	}
	mem := b.memory()

	n := func(f string) int {
		if want[f] {
			return runs
		}
		return 0
	}
	kill := b.series("holder hard-killed", n("kill"), func(h string) error { return l.Kill(h) },
		func(h string) error { return l.Restart(b.timeout(2*time.Minute), h) })
	cut := b.series("holder cut off", n("cut"), func(h string) error { return l.Cut(h) },
		func(h string) error { return l.Heal(h) })
	freeze := b.series("holder frozen 5 s", n("freeze"), func(h string) error { return l.Freeze(h) }, nil)
	// Members whose death moves no singleton: the witness, a voter that
	// does not hold the VIP, a node that does not vote.
	bystanders := func(fault, label string, pick func(holder string) (string, error)) []int {
		var failed []int
		for i := 0; i < n(fault) && ctx.Err() == nil; i++ {
			f, err := b.bystanderKill(label, pick)
			if err != nil {
				logf("%s run %d: %v", label, i+1, err)
				continue
			}
			failed = append(failed, f)
		}
		return failed
	}
	witness := bystanders("witness", "witness hard-killed", func(string) (string, error) { return c.Witness, nil })
	voter := bystanders("voter", "voter without the VIP hard-killed", func(holder string) (string, error) {
		for _, m := range l.Config().Topology.Voters() {
			if !m.Witness && m.Name != holder {
				return m.Name, nil
			}
		}
		return "", fmt.Errorf("every voter but the witness holds the VIP")
	})
	member := bystanders("member", "node that does not vote hard-killed", func(holder string) (string, error) {
		for _, m := range l.Config().Topology.Members {
			if m.NonVoter && m.Name != holder {
				return m.Name, nil
			}
		}
		return "", fmt.Errorf("no node that does not vote is free of the VIP")
	})
	haproxy := &series{name: "HAProxy killed on the holder"}
	var lastHAProxyKill time.Time
	for i := 0; i < n("haproxy") && ctx.Err() == nil; i++ {
		if err := b.haproxyKill(haproxy, &lastHAProxyKill); err != nil {
			haproxy.errs = append(haproxy.errs, fmt.Sprintf("%s run %d: %v", haproxy.name, i+1, err))
			logf("%s run %d: %v", haproxy.name, i+1, err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	rest := "resources converged and the bus at rest for 2 s"
	if !settle {
		rest = "resources converged; the bus maybe still settling after the previous heal"
	}
	fmt.Printf("\nFailover of the reference scenario, topology %s: %s, the VIP run by %s (%d runs each; client: one request every 50 ms, 0.5 s timeout; before each fault: %s)\n\n",
		topology, strings.Join(l.Names(), " "), map[string]string{"vip": "the vip agent", "ipaddr2": "ocf:heartbeat:IPaddr2"}[vipAgent], runs, rest)
	fmt.Println("| fault | (a) VIP on survivor | (b) first answer | (c) all answered | failed requests |")
	fmt.Println("|---|---|---|---|---|")
	for _, s := range []*series{kill, cut, freeze} {
		if len(s.b) == 0 && len(s.errs) == 0 {
			continue // not run (--faults)
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", s.name, stats(s.a), stats(s.b), stats(s.c), istats(s.failed))
	}
	if want["haproxy"] {
		fmt.Printf("| %s | stayed on the holder in %d of %d runs | %s | %s | %s |\n", haproxy.name, haproxy.stayed, len(haproxy.b), stats(haproxy.b), stats(haproxy.c), istats(haproxy.failed))
	}
	for _, by := range []struct {
		fault, label string
		failed       []int
	}{{"witness", "witness hard-killed", witness}, {"voter", "voter without the VIP hard-killed", voter}, {"member", "node that does not vote hard-killed", member}} {
		if want[by.fault] {
			fmt.Printf("| %s | - | - | - | %s |\n", by.label, istats(by.failed))
		}
	}
	fmt.Printf("\nmedian (min-max), seconds; errors: %s\n", strings.Join(append(append(append(kill.errs, cut.errs...), freeze.errs...), haproxy.errs...), "; "))
	if want["haproxy"] {
		fmt.Printf("HAProxy killed on the holder: failures of haproxy counted by the cluster: %d (systemd restarts it in place; only past its start limit is it the cluster's)\n", haproxy.vipFailures)
	}
	fmt.Printf("instants (20 ms samples) with the VIP on two nodes (every run): %d\n", b.split)
	if len(freeze.b) > 0 {
		fmt.Printf("holder frozen 5 s: VIP on two nodes while frozen %s (bound: the kernel lifetime, 0.25 s + the hold's delay), after the thaw %s; the VIP stayed on the survivor in %d of %d runs; VIP failures counted: %d\n",
			stats(freeze.overlap), stats(freeze.afterThaw), freeze.stayed, len(freeze.b), freeze.vipFailures)
	}
	fmt.Printf("cold start, lab booted to the VIP serving: %.2f s\n", cold.Seconds())
	fmt.Printf("memory of tandem.service (tandem with its bus, and its plugins) after the cold start:\n  %s\n", mem)
	fmt.Printf("and after the runs:\n  %s\n", b.memory())
	return nil
}

type series struct {
	name    string
	a, b, c []time.Duration
	failed  []int
	errs    []string
	// Whole-node freeze only: time with the VIP on two nodes while frozen
	// and after the thaw, runs where the VIP stayed on the survivor, and
	// failures of the VIP counted on either node.
	overlap, afterThaw  []time.Duration
	stayed, vipFailures int
}

func (b *bench) timeout(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	go func() { <-ctx.Done(); cancel() }()
	return ctx
}

func (b *bench) converged() error {
	_, err := b.c.WaitConverged(b.timeout(2*time.Minute), b.c.Nodes[0], b.c.Nodes)
	if err != nil || !b.settle {
		return err
	}
	return b.settled()
}

// settled waits until the bus is at rest (bus.Conn.Settled: the bucket
// leaders on the witness and every replica current) and has stayed so for
// 2 s. Right after a heal it is not: the rejoining node disturbs the
// leaders, the holders' renewals stall and promises are given, and a fault
// then can cost a Raft election.
func (b *bench) settled() error {
	conn, err := b.l.Connect("failover-bench")
	if err != nil {
		return err
	}
	defer conn.Close()
	// With a witness, the leaders belong on it; without one, anywhere but
	// on the VIP's node (bus.PlaceLeader).
	placed := func() func(string) error {
		if w := b.l.Config().Topology.Witness(); w != nil {
			return bus.LedBy(w.Name)
		}
		holders, _ := b.c.Holders()
		return bus.NotLedBy(holders...)
	}
	const stable = 2 * time.Second
	start := time.Now()
	var since time.Time // settled since then, without a break
	ctx := b.timeout(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := conn.Settled(cctx, placed())
		cancel()
		switch {
		case err != nil:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= stable:
			if d := time.Since(start); d > stable+time.Second {
				logf("bus at rest for %s after %s", stable, d.Round(10*time.Millisecond))
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("bus not at rest for %s within a minute: %v", stable, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *bench) series(name string, runs int, fault, undo func(string) error) *series {
	s := &series{name: name}
	for i := 0; i < runs && b.ctx.Err() == nil; i++ {
		if err := b.failover(s, fault, undo); err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s run %d: %v", name, i+1, err))
			logf("%s run %d: %v", name, i+1, err)
		}
	}
	return s
}

// underLoad waits for the cluster to converge, then starts the safety
// checker and a client loop, and returns once the client has 10 requests
// on record, with the VIP's holder.
func (b *bench) underLoad() (holder string, safety *scenario.Safety, client *scenario.Client, err error) {
	if err := b.converged(); err != nil {
		return "", nil, nil, err
	}
	if holder, err = b.c.WaitHolder(b.timeout(10*time.Second), ""); err != nil {
		return "", nil, nil, err
	}
	safety = b.c.WatchSafety()
	client = b.c.StartClient(60 * time.Second)
	for len(client.Requests()) < 10 && b.ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return holder, safety, client, nil
}

func (b *bench) failover(s *series, fault, undo func(string) error) error {
	holder, safety, client, err := b.underLoad()
	if err != nil {
		return err
	}
	at := time.Now()
	if err := fault(holder); err != nil {
		client.Stop()
		safety.Stop()
		return err
	}
	// Until 40 requests in a row (2 s) were answered after the fault.
	deadline := at.Add(55 * time.Second)
	for time.Now().Before(deadline) && b.ctx.Err() == nil {
		rs := client.Requests()
		if scenario.AnsweredInARow(rs, at) >= 40 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if undo == nil {
		// A freeze: 5 s in all, then the thaw, under the same client and
		// checker for 3 s more, which must see the VIP stay put, alone.
		return b.thaw(s, holder, at, client, safety)
	}
	rs := client.Stop()
	vipAt, survivor, vipOK := safety.FirstAway(holder, at)
	if err := safety.Stop(); err != nil && strings.Contains(err.Error(), "VIP") {
		b.split++
		logf("SAFETY: %v", err)
	}
	first, all := scenario.Recovery(rs, at)
	uerr := undo(holder)
	if !vipOK || first.IsZero() || all.IsZero() {
		return fmt.Errorf("no recovery from %s (VIP seen on another node: %v %s): %s", holder, vipOK, survivor, scenario.Errors(rs))
	}
	if first.Sub(at) > 1500*time.Millisecond {
		// Over the target (b) <= 1.5 s: keep the nodes' side of it.
		b.saveJournals(fmt.Sprintf("%s-%s", strings.ReplaceAll(s.name, " ", "-"), at.Format("150405")),
			fmt.Sprintf("%s at %s, %s -> %s: first answer after %s", s.name, at.Format("15:04:05.000"), holder, survivor, first.Sub(at).Round(time.Millisecond)))
	}
	s.a = append(s.a, vipAt.Sub(at))
	s.b = append(s.b, first.Sub(at))
	s.c = append(s.c, all.Sub(at))
	s.failed = append(s.failed, scenario.Failed(rs))
	logf("%s: %s -> %s: (a) %s (b) %s (c) %s, %d of %d requests failed", s.name, holder, survivor,
		vipAt.Sub(at).Round(time.Millisecond), first.Sub(at).Round(time.Millisecond), all.Sub(at).Round(time.Millisecond),
		scenario.Failed(rs), len(rs))
	return uerr
}

// thaw ends a whole-node freeze of holder begun at, once it has lasted 5 s,
// and records the run.
func (b *bench) thaw(s *series, holder string, at time.Time, client *scenario.Client, safety *scenario.Safety) error {
	c := b.c
	for time.Since(at) < 5*time.Second && b.ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.l.Thaw(holder); err != nil {
		client.Stop()
		safety.Stop()
		return err
	}
	thawed := time.Now()
	for time.Since(thawed) < 3*time.Second && b.ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	rs := client.Stop()
	end := time.Now()
	_ = safety.Stop() // judged against the kernel lifetime below
	vipAt, survivor, vipOK := safety.FirstAway(holder, at)
	first, all := scenario.Recovery(rs, at)
	if !vipOK || first.IsZero() || all.IsZero() {
		return fmt.Errorf("no recovery from the freeze of %s (VIP seen on another node: %v %s): %s", holder, vipOK, survivor, scenario.Errors(rs))
	}
	overlap, after := safety.TwoVIPs(at, thawed), safety.TwoVIPs(thawed, end)
	if on, err := c.Holders(); err == nil && len(on) == 1 && on[0] == survivor {
		s.stayed++
	}
	if r, err := c.Status(b.timeout(10*time.Second), survivor); err == nil {
		for _, f := range r.Failures {
			if f.Resource == c.VIPResource && f.Last.After(at) {
				s.vipFailures++
				logf("%s: a failure of the VIP was counted on %s: %s", s.name, f.Node, f.Message)
			}
		}
	}
	if first.Sub(at) > 1500*time.Millisecond || after > 0 {
		b.saveJournals(fmt.Sprintf("freeze-%s", at.Format("150405")),
			fmt.Sprintf("%s frozen at %s: first answer after %s, two VIPs after the thaw %s", holder, at.Format("15:04:05.000"), first.Sub(at).Round(time.Millisecond), after))
	}
	s.a = append(s.a, vipAt.Sub(at))
	s.b = append(s.b, first.Sub(at))
	s.c = append(s.c, all.Sub(at))
	s.failed = append(s.failed, scenario.Failed(rs))
	s.overlap = append(s.overlap, overlap)
	s.afterThaw = append(s.afterThaw, after)
	logf("%s: %s -> %s: (a) %s (b) %s (c) %s, %d of %d requests failed; two VIPs %s while frozen, %s after the thaw", s.name, holder, survivor,
		vipAt.Sub(at).Round(time.Millisecond), first.Sub(at).Round(time.Millisecond), all.Sub(at).Round(time.Millisecond),
		scenario.Failed(rs), len(rs), overlap.Round(time.Millisecond), after.Round(time.Millisecond))
	// The VIP failures are cleared so that the next run starts clean.
	if _, err := c.Tandem(b.timeout(30*time.Second), survivor, "resource", "cleanup"); err != nil {
		return err
	}
	return nil
}

// haproxyKill kills -9 every HAProxy process on the VIP's holder under a
// client loop and the safety checker, and records when requests through
// the VIP were answered again: systemd restarts HAProxy in place (the
// haproxy agent's drop-in), the VIP stays. Runs on one node are at least
// 60 s apart (systemd's start-limit interval; *last is the previous kill),
// so that each is a first restart, not one towards the limit. s.stayed
// counts runs where the VIP stayed, s.vipFailures failures of haproxy the
// cluster counted.
func (b *bench) haproxyKill(s *series, last *time.Time) error {
	c := b.c
	if wait := time.Until(last.Add(61 * time.Second)); wait > 0 {
		logf("%s: waiting %s for systemd's start-limit interval since the previous kill", s.name, wait.Round(time.Second))
		for time.Until(last.Add(61*time.Second)) > 0 && b.ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
		}
	}
	holder, safety, client, err := b.underLoad()
	if err != nil {
		return err
	}
	at := time.Now()
	*last = at
	if _, err := b.l.Exec(b.timeout(10*time.Second), holder, "sh", "-c", "p=$(pidof haproxy) || { echo no haproxy process; exit 1; }; kill -9 $p 2>/dev/null; exit 0"); err != nil {
		client.Stop()
		safety.Stop()
		return err
	}
	deadline := at.Add(55 * time.Second)
	for time.Now().Before(deadline) && b.ctx.Err() == nil {
		if scenario.AnsweredInARow(client.Requests(), at) >= 40 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rs := client.Stop()
	if err := safety.Stop(); err != nil && strings.Contains(err.Error(), "VIP") {
		b.split++
		logf("SAFETY: %v", err)
	}
	first, all := scenario.Recovery(rs, at)
	if first.IsZero() || all.IsZero() {
		return fmt.Errorf("no recovery after HAProxy was killed on %s: %s", holder, scenario.Errors(rs))
	}
	now, _ := c.Holders()
	if len(now) == 1 && now[0] == holder {
		s.stayed++
	}
	failures := 0
	if r, err := c.Status(b.timeout(10*time.Second), holder); err == nil {
		for _, f := range r.Failures {
			if f.Resource == "haproxy" && f.Last.After(at) {
				failures++
				logf("%s: a failure of haproxy was counted on %s: %s", s.name, f.Node, f.Message)
			}
		}
	}
	s.vipFailures += failures
	s.b = append(s.b, first.Sub(at))
	s.c = append(s.c, all.Sub(at))
	s.failed = append(s.failed, scenario.Failed(rs))
	logf("%s: %s (the VIP now on %v): (b) %s (c) %s, %d of %d requests failed", s.name, holder, now,
		first.Sub(at).Round(time.Millisecond), all.Sub(at).Round(time.Millisecond), scenario.Failed(rs), len(rs))
	if failures > 0 {
		_, err := c.Tandem(b.timeout(30*time.Second), holder, "resource", "cleanup", "haproxy")
		return err
	}
	return nil
}

// bystanderKill hard-kills the member pick names (a member whose death
// moves no singleton: the witness, a voter without the VIP, a node that
// does not vote) under a client loop and watches 12 s (longer than the
// bus's leader election), then boots it again. It returns the number of
// failed requests.
func (b *bench) bystanderKill(label string, pick func(holder string) (string, error)) (int, error) {
	c := b.c
	if err := b.converged(); err != nil {
		return 0, err
	}
	holder, err := c.WaitHolder(b.timeout(10*time.Second), "")
	if err != nil {
		return 0, err
	}
	victim, err := pick(holder)
	if err != nil {
		return 0, err
	}
	safety := c.WatchSafety()
	client := c.StartClient(60 * time.Second)
	for len(client.Requests()) < 10 && b.ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	at := time.Now()
	if err := b.l.Kill(victim); err != nil {
		client.Stop()
		safety.Stop()
		return 0, err
	}
	for time.Since(at) < 12*time.Second && b.ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	rs := client.Stop()
	if err := safety.Stop(); err != nil && strings.Contains(err.Error(), "VIP") {
		b.split++
		logf("SAFETY: %v", err)
	}
	logf("%s (%s; the VIP on %s): %d of %d requests failed", label, victim, holder, scenario.Failed(rs), len(rs))
	if n := scenario.Failed(rs); n > 0 {
		b.saveJournals(victim+"-"+at.Format("150405"),
			fmt.Sprintf("%s killed at %s; failed requests: %s", victim, at.Format("15:04:05.000"), scenario.Errors(rs)))
	}
	return scenario.Failed(rs), b.l.Restart(b.timeout(2*time.Minute), victim)
}

// saveJournals keeps the nodes' journals of a run worth a look.
func (b *bench) saveJournals(name, what string) {
	path := fmt.Sprintf("/tmp/failover-bench-%s-%s.log", b.l.Prefix(), name)
	if err := b.l.SaveJournals(path, what, b.c.Nodes...); err == nil {
		logf("journals of the nodes: %s", path)
	}
}

// memory is the memory of tandem.service (tandem, its bus and its plugins) on
// each member: every resident page counted once, and the RSS summed over
// the processes (which counts the one tandem binary once per process).
func (b *bench) memory() string {
	var out []string
	for _, m := range b.l.Members() {
		u, err := b.l.TandemMemory(m.Name)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", m.Name, err))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s", m.Name, u))
	}
	return strings.Join(out, "\n  ")
}

func stats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%.2f (%.2f-%.2f)", s[len(s)/2].Seconds(), s[0].Seconds(), s[len(s)-1].Seconds())
}

func istats(ns []int) string {
	if len(ns) == 0 {
		return "-"
	}
	s := append([]int(nil), ns...)
	sort.Ints(s)
	return fmt.Sprintf("%d (%d-%d)", s[len(s)/2], s[0], s[len(s)-1])
}
