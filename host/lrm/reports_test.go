package lrm

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
)

// bareLRM is an LRM with only what taking reports and building the view
// use: node self among nodes, all online.
func bareLRM(self string, nodes ...string) *LRM {
	top := &bus.Topology{}
	for _, n := range nodes {
		top.Members = append(top.Members, bus.Member{Name: n})
	}
	return &LRM{cfg: Config{Node: self, Incarnation: "self-1", Topology: top, Online: func() []string { return nodes }},
		reports: map[string]nodeBrief{}, pending: map[string]pendingReport{}, notifyWake: make(chan struct{}, 1)}
}

// report is node's report number seq of incarnation inc, as it comes on
// the bus: r resources, the first started ones named after seq.
func report(t testing.TB, node, inc string, seq uint64, r, started int) []byte {
	t.Helper()
	nr := bus.NodeResources{Node: node, Incarnation: inc, Seq: seq, ConfigRev: 7, Probed: true}
	for i := range r {
		st := bus.StateStopped
		name := fmt.Sprintf("rsc%d", i)
		if i < started {
			st, name = bus.StateStarted, fmt.Sprintf("s%d-%d", seq, i)
		}
		nr.Resources = append(nr.Resources, bus.ResourceState{Resource: name, State: st, Since: time.Now(),
			Message: "probe found it " + st, Params: "0123456789abcdef"})
	}
	data, err := bus.Encode(nr, node, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// olderReport is report as a build before the brief (Active) wrote it.
func olderReport(t testing.TB, node, inc string, seq uint64, r, started int) []byte {
	t.Helper()
	data := report(t, node, inc, seq, r, started)
	out := regexp.MustCompile(`"active":\[[^\]]*\],`).ReplaceAll(data, nil)
	if len(out) == len(data) {
		t.Fatalf("no brief in %s", data)
	}
	return out
}

func activeOn(l *LRM, node string) []string {
	var out []string
	for rsc, ns := range l.View().Active {
		if slices.Contains(ns, node) {
			out = append(out, rsc)
		}
	}
	slices.Sort(out)
	return out
}

// Other nodes' reports are read in brief: their resources not stopped,
// never the ones they only probed; none is decoded in full, and the view
// and the clone indexes see what each node's latest report runs.
func TestReportsReadInBrief(t *testing.T) {
	nodes := []string{"holly", "benji", "rusty", "cleo"}
	l := bareLRM("holly", nodes...)
	for seq := uint64(1); seq <= 20; seq++ {
		for _, n := range nodes[1:] {
			l.onReport(bus.SubjectState(n), report(t, n, n+"-1", seq, 50, 2))
		}
	}
	for _, n := range nodes[1:] {
		if got, want := activeOn(l, n), []string{"s20-0", "s20-1"}; !slices.Equal(got, want) {
			t.Fatalf("view: %s runs %v, want %v (its latest report)", n, got, want)
		}
	}
	l.onReport(bus.SubjectState("benji"), report(t, "benji", "benji-1", 21, 50, 1))
	if got := activeOn(l, "benji"); !slices.Equal(got, []string{"s21-0"}) {
		t.Fatalf("benji runs %v after its report 21", got)
	}
	if got := l.decodes.Load(); got != 0 {
		t.Fatalf("%d reports decoded in full, want none", got)
	}
	l.mu.Lock()
	got := l.reports["rusty"]
	l.mu.Unlock()
	if got.head.Seq != 20 || len(got.active) != 2 {
		t.Fatalf("rusty's report kept: %+v, want number 20 with its 2 started resources only", got)
	}
}

// Other nodes' reports of an older build (no brief) are decoded only when
// the view (or the clone indexes) need them, and only each node's latest:
// a burst of reports costs one decode per node, a report a newer one
// replaced none.
func TestOlderReportsDecodedOnlyWhenNeeded(t *testing.T) {
	nodes := []string{"holly", "benji", "rusty", "cleo"}
	l := bareLRM("holly", nodes...)
	report := olderReport
	for seq := uint64(1); seq <= 20; seq++ {
		for _, n := range nodes[1:] {
			l.onReport(bus.SubjectState(n), report(t, n, n+"-1", seq, 50, 2))
		}
	}
	if got := l.decodes.Load(); got != 0 {
		t.Fatalf("%d reports decoded on arrival, want none", got)
	}
	for _, n := range nodes[1:] {
		if got, want := activeOn(l, n), []string{"s20-0", "s20-1"}; !slices.Equal(got, want) {
			t.Fatalf("view: %s runs %v, want %v (its latest report)", n, got, want)
		}
	}
	if got, want := l.decodes.Load(), uint64(len(nodes)-1); got != want {
		t.Fatalf("60 reports of 3 nodes: %d decoded for the view, want %d (each node's latest)", got, want)
	}
	l.View()
	if got := l.decodes.Load(); got != 3 {
		t.Fatalf("the view built again decoded %d reports in all, want still 3", got)
	}
	l.onReport(bus.SubjectState("benji"), report(t, "benji", "benji-1", 21, 50, 1))
	if got := activeOn(l, "benji"); !slices.Equal(got, []string{"s21-0"}) {
		t.Fatalf("benji runs %v after its report 21", got)
	}
	if got := l.decodes.Load(); got != 4 {
		t.Fatalf("%d reports decoded in all, want 4", got)
	}
	// The clone indexes read them the same way.
	l.onReport(bus.SubjectState("rusty"), report(t, "rusty", "rusty-1", 21, 50, 1))
	l.onReport(bus.SubjectState("rusty"), report(t, "rusty", "rusty-1", 22, 50, 1))
	l.settle()
	l.mu.Lock()
	l.decodeLocked()
	seq := l.reports["rusty"].head.Seq
	l.mu.Unlock()
	if got := l.decodes.Load(); got != 5 || seq != 22 {
		t.Fatalf("after rusty's 21 and 22: %d decoded in all (want 5), rusty's report %d (want 22)", got, seq)
	}
}

// Decoding late keeps the rules that order a node's reports: within an
// incarnation an older report than the one held (decoded or not) is
// dropped, a new incarnation's is taken whatever its number, a report on
// another node's subject is dropped, and this node's own, stored when it
// published them, are not taken again (an earlier process's are).
func TestReportOrderKeptWhenDecodedLate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report func(t testing.TB, node, inc string, seq uint64, r, started int) []byte
		// cut makes a report that does not decode as far as it is read.
		cut     func(data []byte) []byte
		decodes uint64
	}{
		{"brief", report, func(data []byte) []byte {
			return data[:bytes.Index(data, []byte(`"active":[`))+12]
		}, 1},
		{"older build", olderReport, func(data []byte) []byte { return data[:len(data)-30] }, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report := tc.report
			l := bareLRM("holly", "holly", "benji")
			want := func(node string, active ...string) {
				t.Helper()
				if got := activeOn(l, node); !slices.Equal(got, active) {
					t.Fatalf("%s runs %v, want %v", node, got, active)
				}
			}
			l.onReport(bus.SubjectState("benji"), report(t, "benji", "b-1", 5, 3, 1))
			l.onReport(bus.SubjectState("benji"), report(t, "benji", "b-1", 4, 3, 1)) // older, not decoded yet: dropped
			want("benji", "s5-0")
			l.onReport(bus.SubjectState("benji"), report(t, "benji", "b-1", 3, 3, 1)) // older than the decoded one
			want("benji", "s5-0")
			l.onReport(bus.SubjectState("benji"), report(t, "benji", "b-1", 5, 3, 2)) // the same number is taken, as before
			want("benji", "s5-0", "s5-1")
			l.onReport(bus.SubjectState("benji"), report(t, "benji", "b-2", 1, 3, 1)) // benji restarted
			want("benji", "s1-0")
			l.onReport(bus.SubjectState("holly"), report(t, "benji", "b-2", 9, 3, 1)) // not on its own subject
			want("benji", "s1-0")
			l.onReport(bus.SubjectStateRequest, nil) // a state request
			want("benji", "s1-0")
			// Not in the order Encode writes: decoded at once, ordered the same.
			raw := `{"kind":"node-resources","v":1,"src":"benji","data":{"seq":2,"node":"benji","incarnation":"b-2","probed":true,` +
				`"resources":[{"resource":"moved","state":"started"}]}}`
			l.onReport(bus.SubjectState("benji"), []byte(raw))
			want("benji", "moved")
			l.onReport(bus.SubjectState("benji"), report(t, "benji", "b-2", 1, 3, 1)) // older than that one
			want("benji", "moved")
			// A latest report that does not decode is dropped: the one before it stays.
			bad := report(t, "benji", "b-2", 3, 3, 1)
			l.onReport(bus.SubjectState("benji"), tc.cut(bad))
			want("benji", "moved")

			l.mu.Lock()
			l.reports["holly"] = nodeBrief{head: bus.ReportHeader{Node: "holly", Incarnation: "self-1", Seq: 10},
				active: []bus.ActiveResource{{Resource: "mine", State: bus.StateStarted}}}
			l.reportsVer++
			l.mu.Unlock()
			l.onReport(bus.SubjectState("holly"), report(t, "holly", "self-1", 10, 3, 1)) // its own, back from the bus
			want("holly", "mine")
			if l.decodes.Load() != tc.decodes {
				t.Fatalf("%d reports decoded, want %d (its own not again)", l.decodes.Load(), tc.decodes)
			}
			l.onReport(bus.SubjectState("holly"), report(t, "holly", "self-0", 99, 3, 1)) // the process before
			want("holly", "s99-0")
		})
	}
}

// BenchmarkStateReports: 16 members' reports of 256 resources each, 8 of
// them started, 4 from every member between two builds of the view (a
// cold start's probes and starts). eager decodes each on arrival, as the
// LRM did before it kept them (host/lrm before "decode reports lazily");
// lazy is onReport with reports of a build before the brief (each node's
// latest decoded when the view is built); brief is onReport now.
func BenchmarkStateReports(b *testing.B) {
	const members, resources, burst = 16, 256, 4
	nodes := make([]string, members)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%02d", i)
	}
	wire := func(report func(t testing.TB, node, inc string, seq uint64, r, started int) []byte) [][]byte {
		msgs := make([][]byte, 0, members*burst)
		for s := range burst {
			for _, n := range nodes[1:] {
				msgs = append(msgs, report(b, n, n+"-1", uint64(s+1), resources, 8))
			}
		}
		return msgs
	}
	older, briefs := wire(olderReport), wire(report)
	b.Run("eager", func(b *testing.B) {
		l := bareLRM(nodes[0], nodes...)
		decodes := 0
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for _, m := range older {
				r, _, err := bus.Decode[bus.NodeResources](m)
				if err != nil {
					b.Fatal(err)
				}
				decodes++
				r.Seq += uint64(i * burst)
				l.mu.Lock()
				prev, ok := l.reports[r.Node]
				if !ok || prev.head.Incarnation != r.Incarnation || r.Seq >= prev.head.Seq {
					l.reports[r.Node] = briefOf(r)
					l.reportsVer++
				}
				l.mu.Unlock()
			}
			l.View()
		}
		b.ReportMetric(float64(decodes)/float64(b.N), "decodes/op")
	})
	for _, c := range []struct {
		name string
		msgs [][]byte
	}{{"lazy", older}, {"brief", briefs}} {
		b.Run(c.name, func(b *testing.B) {
			l := bareLRM(nodes[0], nodes...)
			b.ReportAllocs()
			for b.Loop() {
				// Each round's reports are the same: a new incarnation's
				// number 1 and on is taken as newer.
				l.mu.Lock()
				clear(l.reports)
				l.mu.Unlock()
				for i, m := range c.msgs {
					l.onReport(bus.SubjectState(nodes[1+i%(members-1)]), m)
				}
				l.View()
			}
			b.ReportMetric(float64(l.decodes.Load())/float64(b.N), "decodes/op")
		})
	}
}
