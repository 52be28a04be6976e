// Command chaos-bench is `make bench-chaos`: a random but seeded schedule
// of faults against the reference scenario in a lab of its own (prefix
// tdchaos on 198.18.0.192/27, shared with the failover benchmark: labs run
// one at a time), for at least --duration and --faults faults: the VIP's
// holder hard-killed, cut off, frozen whole for 5 s; the witness killed;
// `tandem host` SIGKILLed and SIGSTOPped; the vip plugin SIGKILLed; Apache
// and HAProxy killed; the holder's link flapping; a stop that keeps
// failing; the holder starved of CPU. Throughout, a safety checker samples
// every node's addresses every 20 ms, a client sends one request to the VIP
// every 50 ms, and two admins edit the configuration through the CLI on
// random members; every edit the CLI acknowledged must be in the history,
// in order.
//
// It prints per fault kind the runs, the first answer and the time to every
// request answered (median / max, from the fault), the failed requests, and
// the totals: time with the VIP on two nodes (and outside the frozen-node
// bound), lost acknowledged edits, spurious moves of the VIP (it moved
// during no fault that takes its node away), the transitions a blocked stop
// caused, and the seed to replay the schedule. Minutes; not part of make
// test. Run as root after `make build`.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/scenario"
	"github.com/tandem-ha/tandem/host/status"
)

func main() {
	seed := flag.Uint64("seed", 0, "the schedule's seed (0: from the clock); the report prints it")
	duration := flag.Duration("duration", 15*time.Minute, "run faults for at least this long")
	minFaults := flag.Int("faults", 60, "and at least this many faults")
	prefix := flag.String("prefix", "tdchaos", "lab name prefix")
	subnet := flag.String("subnet", "198.18.0.192/27", "the lab's sub-range of 198.18.0.0/24")
	starve := flag.Duration("starve", 60*time.Second, "how long CPU starvation of the holder lasts")
	flap := flag.Duration("flap", 20*time.Second, "how long the holder's link flaps (2 s cut, 2 s healed)")
	leases := flag.String("leases", "bucket", "how the cluster keeps leases ([bus] leases): bucket, or grants (granted by a majority of the voters; no stream leader needed)")
	only := flag.String("only", "", "run only the fault kinds whose names contain one of these comma-separated words (\"flapping\", \"frozen\")")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "chaos-bench: run as root (it boots an nspawn lab)")
		os.Exit(1)
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	sn, err := netip.ParsePrefix(*subnet)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos-bench: --subnet:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{ctx: ctx, seed: *seed, rng: rand.New(rand.NewPCG(*seed, 14)), starve: *starve, flap: *flap, leases: *leases}
	for _, k := range kinds {
		for _, w := range strings.Split(*only, ",") {
			if strings.Contains(k.name, strings.TrimSpace(w)) {
				b.kinds = append(b.kinds, k)
				break
			}
		}
	}
	if len(b.kinds) == 0 {
		fmt.Fprintf(os.Stderr, "chaos-bench: --only %q names no fault kind\n", *only)
		os.Exit(2)
	}
	if err := b.run(*prefix, sn, *duration, *minFaults); err != nil {
		fmt.Fprintln(os.Stderr, "chaos-bench:", err)
		fmt.Fprintf(os.Stderr, "chaos-bench: replay with: make bench-chaos SEED=%d\n", *seed)
		os.Exit(1)
	}
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

type bench struct {
	ctx    context.Context
	seed   uint64
	rng    *rand.Rand
	starve time.Duration
	flap   time.Duration
	leases string // [bus] leases of the lab's cluster file (--leases)
	kinds  []kind // the kinds the schedule draws from

	l      *lab.Lab
	c      *scenario.Cluster
	conn   *bus.Conn
	safety *scenario.Safety
	client *scenario.Client
	faults []*fault

	httpdTransitions   atomic.Int64 // transitions naming httpd
	blockedFor         time.Duration
	blockedTransitions int
}

// fault is one fault of the schedule.
type fault struct {
	kind   kind
	target string
	at     time.Time // injected
	done   time.Time // undone
	thawed time.Time // a freeze: when the node resumed
	err    error
}

func (b *bench) timeout(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	go func() { <-ctx.Done(); cancel() }()
	return ctx
}

// sleepUntil waits for t (or the end of the run): the schedule's own
// pauses, not a synchronisation.
func (b *bench) sleepUntil(t time.Time) {
	select {
	case <-b.ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

func (b *bench) holder() (string, error) {
	return b.c.WaitHolder(b.timeout(30*time.Second), "")
}

// waitServing waits until 40 requests in a row (2 s) started after at were
// answered, or within.
func (b *bench) waitServing(at time.Time, within time.Duration) {
	for time.Since(at) < within && b.ctx.Err() == nil {
		if scenario.AnsweredInARow(b.client.Requests(), at) >= 40 {
			return
		}
		b.sleepUntil(time.Now().Add(100 * time.Millisecond))
	}
}

func (b *bench) converged() error {
	var last error
	for _, from := range append(append([]string{}, b.c.Nodes...), b.c.Witness) {
		_, err := b.c.WaitConverged(b.timeout(2*time.Minute), from, b.c.Nodes)
		if err == nil {
			return nil
		}
		last = err
	}
	return last
}

func (b *bench) run(prefix string, subnet netip.Prefix, duration time.Duration, minFaults int) error {
	opts, err := lab.Options{Prefix: prefix, Subnet: subnet, Relocate: true, StartTandem: true, Logf: logf}.Defaults()
	if err != nil {
		return err
	}
	ref, err := os.ReadFile(opts.Config)
	if err != nil {
		return err
	}
	conf, err := lab.WithLeases(ref, b.leases)
	if err != nil {
		return fmt.Errorf("--leases: %w", err)
	}
	opts, remove, err := opts.WithConfig(conf)
	if err != nil {
		return err
	}
	defer remove()
	upCtx, cancel := context.WithTimeout(b.ctx, 20*time.Minute)
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
	b.l = l
	if b.c, err = scenario.New(l); err != nil {
		return err
	}
	if err := b.converged(); err != nil {
		return err
	}
	if b.conn, err = l.Connect("chaos-bench"); err != nil {
		return err
	}
	defer b.conn.Close()
	if _, err := bus.Subscribe(b.conn, bus.SubjectTransition, func(ev bus.TransitionEvent, _ bus.Envelope) {
		if strings.Contains(string(ev.Plan), `"resource":"httpd"`) {
			b.httpdTransitions.Add(1)
		}
	}); err != nil {
		return err
	}
	admins, err := b.startAdmins()
	if err != nil {
		return err
	}

	logf("seed %d: at least %d faults over at least %s", b.seed, minFaults, duration)
	b.safety = b.c.WatchSafety()
	b.client = b.c.StartClient(duration + time.Hour)
	start := time.Now()
	var pool []kind
	for i := 0; (time.Since(start) < duration || i < minFaults) && b.ctx.Err() == nil; i++ {
		if err := b.converged(); err != nil {
			logf("fault %d: the cluster has not converged: %v", i+1, err)
		}
		// A random pause, sometimes none: a fault may follow the previous
		// one's heal at once.
		b.sleepUntil(time.Now().Add(time.Duration(b.rng.IntN(5000)) * time.Millisecond))
		if len(pool) == 0 {
			pool = append([]kind(nil), b.kinds...)
			b.rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		}
		f := &fault{kind: pool[0]}
		pool = pool[1:]
		f.err = f.kind.run(b, f)
		f.done = time.Now()
		if f.at.IsZero() {
			f.at = f.done
		}
		b.faults = append(b.faults, f)
		msg := "ok"
		if f.err != nil {
			msg = f.err.Error()
		}
		logf("fault %d: %s (%s) at %s, undone after %s: %s", i+1, f.kind.name, f.target, f.at.Format("15:04:05.000"),
			f.done.Sub(f.at).Round(time.Millisecond), msg)
		if ms := b.moves(f.at, time.Now()); len(ms) > 0 && !f.kind.moves {
			b.saveJournals(i+1, fmt.Sprintf("fault %d: %s (%s) at %s: the VIP moved (%s at %s)", i+1, f.kind.name, f.target,
				f.at.Format("15:04:05.000"), ms[0].what, ms[0].at.Format("15:04:05.000")))
		}
	}
	if err := b.converged(); err != nil {
		logf("after the last fault: %v", err)
	}
	b.waitServing(time.Now(), time.Minute)
	end := time.Now()
	edits := admins.stop()
	rs := b.client.Stop()
	_ = b.safety.Stop() // judged in the report
	lost, unverified := admins.check(b.timeout(time.Minute), edits)
	b.report(start, end, rs, edits, lost, unverified)
	return nil
}

// report prints the per-kind table and the totals.
func (b *bench) report(start, end time.Time, rs []scenario.Request, edits []edit, lost, unverified []string) {
	type row struct {
		runs          int
		first, all    []time.Duration
		failed, errs  int
		two, twoOut   time.Duration
		spuriousMoves int
	}
	rows := map[string]*row{}
	var spurious []string
	moves := b.moves(start, end)
	var twoTotal, twoOutside time.Duration
	for i, f := range b.faults {
		r := rows[f.kind.name]
		if r == nil {
			r = &row{}
			rows[f.kind.name] = r
		}
		r.runs++
		if f.err != nil {
			r.errs++
		}
		next := end
		if i+1 < len(b.faults) {
			next = b.faults[i+1].at
		}
		window := between(rs, f.at, next)
		firstOK, allOK := scenario.Recovery(window, f.at)
		if !firstOK.IsZero() {
			r.first = append(r.first, firstOK.Sub(f.at))
		}
		if !allOK.IsZero() {
			r.all = append(r.all, max(0, allOK.Sub(f.at)))
		}
		r.failed += scenario.Failed(window)
		two := b.safety.TwoVIPs(f.at, next)
		r.two += two
		twoTotal += two
		// A frozen holder may keep its address for its kernel lifetime:
		// two VIPs in the first 2 s of a freeze are within the bound.
		bound := f.at
		if f.kind.name == "holder frozen 5 s" {
			bound = f.at.Add(2 * time.Second)
		}
		out := b.safety.TwoVIPs(bound, next)
		r.twoOut += out
		twoOutside += out
		for _, m := range moves {
			// A move is the failover only in the window of a fault that
			// takes the VIP's node away; anywhere else it is spurious.
			if !m.at.Before(f.at) && m.at.Before(next) && !f.kind.moves {
				r.spuriousMoves++
				spurious = append(spurious, fmt.Sprintf("%s at %s during %q", m.what, m.at.Format("15:04:05.000"), f.kind.name))
			}
		}
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf("\nChaos benchmark: %d faults over %s, seed %d (replay: make bench-chaos SEED=%d)\n", len(b.faults), end.Sub(start).Round(time.Second), b.seed, b.seed)
	fmt.Printf("client: one request to the VIP every 50 ms (0.5 s timeout), %d requests, %d failed; safety checker: every node every 20 ms, %d samples, longest gap %s\n\n",
		len(rs), scenario.Failed(rs), b.safety.Count(), b.safety.MaxGap().Round(time.Millisecond))
	fmt.Println("| fault | runs | first answer median / max (s) | all answered median / max (s) | failed requests | VIP on two nodes | spurious moves | errors |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, n := range names {
		r := rows[n]
		fmt.Printf("| %s | %d | %s | %s | %d | %s | %d | %d |\n", n, r.runs, medMax(r.first), medMax(r.all), r.failed,
			r.two.Round(time.Millisecond), r.spuriousMoves, r.errs)
	}
	acked := 0
	for _, e := range edits {
		if e.acked {
			acked++
		}
	}
	fmt.Printf("\nVIP on two nodes: %s in all, %s outside the frozen-node bound (the first 2 s of a whole-node freeze)\n",
		twoTotal.Round(time.Millisecond), twoOutside.Round(time.Millisecond))
	fmt.Printf("lost acknowledged edits: %d of %d acknowledged (%d attempted by 2 admins through the CLI)", len(lost), acked, len(edits))
	if len(unverified) > 0 {
		fmt.Printf("; %d not verifiable (history read too late)", len(unverified))
	}
	fmt.Println()
	for _, l := range lost {
		fmt.Println("  lost:", l)
	}
	fmt.Printf("spurious moves (the VIP moved during a fault that does not take its node away): %d\n", len(spurious))
	for _, s := range spurious {
		fmt.Println("  ", s)
	}
	if b.blockedFor > 0 {
		fmt.Printf("a stop that fails: %d transitions named httpd in %s of blocked state (%.1f per minute)\n",
			b.blockedTransitions, b.blockedFor.Round(time.Second), float64(b.blockedTransitions)/b.blockedFor.Minutes())
	}
	fmt.Printf("seed: %d\n", b.seed)
}

// saveJournals keeps the nodes' journals of a fault worth a look (the lab
// goes at the end of the run).
func (b *bench) saveJournals(n int, what string) {
	path := fmt.Sprintf("/tmp/chaos-bench-%s-%d-fault%d.log", b.l.Prefix(), b.seed, n)
	if err := b.l.SaveJournals(path, what, b.c.Nodes...); err == nil {
		logf("journals of the nodes: %s", path)
	}
}

// move is a change of the VIP's node seen by the safety checker.
type move struct {
	at   time.Time
	what string
}

// moves lists when the VIP went from one node to another (through none or
// both on the way).
func (b *bench) moves(start, end time.Time) []move {
	var out []move
	last := ""
	for _, s := range b.safety.Samples() {
		if len(s.Holders) != 1 {
			continue
		}
		if last != "" && s.Holders[0] != last && !s.At.Before(start) && s.At.Before(end) {
			out = append(out, move{s.At, last + " -> " + s.Holders[0]})
		}
		last = s.Holders[0]
	}
	return out
}

func between(rs []scenario.Request, from, to time.Time) []scenario.Request {
	var out []scenario.Request
	for _, r := range rs {
		if !r.Start.Before(from.Add(-time.Second)) && r.Start.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

func medMax(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%.2f / %.2f", s[len(s)/2].Seconds(), s[len(s)-1].Seconds())
}

func resource(r *status.Report, id string) *status.Resource { return scenario.Resource(r, id) }
