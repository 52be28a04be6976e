package lrm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// instanceWorld is a fake agent that keeps clone instances apart by index,
// per node or (shared: a file system every node mounts) for all nodes.
type instanceWorld struct {
	shared  bool
	mu      sync.Mutex
	running map[string]bool // key(node, resource, index)
}

func (w *instanceWorld) key(node, rsc string, idx int) string {
	k := rsc + ":" + strconv.Itoa(idx)
	if w.shared {
		return k
	}
	return node + "/" + k
}

func (w *instanceWorld) set(node, rsc string, idx int, v bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running[w.key(node, rsc, idx)] = v
}

type instanceRunner struct {
	w    *instanceWorld
	node string
}

func (r instanceRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	k := r.w.key(r.node, req.ResourceID, req.Instance.CloneIndex)
	res := sdk.Result{Code: sdk.OK}
	switch op {
	case bus.OpStart:
		r.w.running[k] = true
	case bus.OpStop:
		r.w.running[k] = false
	case bus.OpMonitor, bus.OpProbe:
		if !r.w.running[k] {
			res.Code = sdk.NotRunning
		}
	default:
		res.Code = sdk.ErrUnimplemented
	}
	return supervisor.Outcome{Result: res, Started: time.Now()}
}

func (r instanceRunner) Hold(context.Context, string, sdk.HoldRequest, time.Duration) supervisor.Outcome {
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}, Started: time.Now()}
}

const cloneConfig = twoNodes + `
[witness]
name = "director"
address = "127.0.0.3"
[[resource]]
id = "web"
agent = "fake"
[resource.clone]
`

// startCloneNode runs name's LRM with the clone configuration and w's agent
// and waits for its probes.
func startCloneNode(t *testing.T, c *bustest.Cluster, w *instanceWorld, name string) *LRM {
	t.Helper()
	return startCloneNodeWith(t, c, w, name, cloneConfig)
}

// startCloneNodeWith is startCloneNode with configuration src.
func startCloneNodeWith(t *testing.T, c *bustest.Cluster, w *instanceWorld, name, src string) *LRM {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	conn := c.Ready(name)
	fs, err := failures.Open(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	rev := liveconfig.Revision{Rev: 1, CIB: cfg.CIB}
	l, err := New(Config{Conn: conn, Node: name, Incarnation: "test", Runner: instanceRunner{w, name}, Leases: noLeases{}, Failures: fs,
		Live: func() liveconfig.Revision { return rev }, Topology: c.Topology, Online: func() []string { return []string{"holly", "benji"} },
		Logger: bustest.Logger().With("node", name), MonitorJitter: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !l.Report().Probed {
			return errors.New(name + " has not probed")
		}
		return nil
	})
	return l
}

// webState is what l reports of web: its state and instance.
func webState(l *LRM) string {
	for _, r := range l.Report().Resources {
		if r.Resource == "web" {
			return fmt.Sprintf("%s/%d", r.State, r.Instance)
		}
	}
	return "none"
}

// A node whose host restarted while it ran clone instance 1 finds that
// instance, not only instance 0.
func TestProbeFindsEveryCloneInstance(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &instanceWorld{running: map[string]bool{}}
	w.set("benji", "web", 1, true)
	benji := startCloneNode(t, c, w, "benji")
	if got := webState(benji); got != bus.StateStarted+"/1" {
		t.Fatalf("benji reports web %s, want started/1 (it runs instance 1)", got)
	}
}

// On shared storage a node sees the instance another node runs; it must
// not adopt it.
func TestProbeDoesNotAdoptAnotherNodesInstance(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &instanceWorld{shared: true, running: map[string]bool{}}
	w.set("holly", "web", 0, true)
	holly := startCloneNode(t, c, w, "holly")
	if got := webState(holly); got != bus.StateStarted+"/0" {
		t.Fatalf("holly reports web %s, want started/0", got)
	}
	benji := startCloneNode(t, c, w, "benji")
	if got := webState(benji); got == bus.StateStarted+"/0" || got == "none" {
		t.Fatalf("benji reports web %s: it adopted holly's instance 0", got)
	}
}

const uniqueConfig = cloneConfig + `globally-unique = true
clone-max = 4
clone-node-max = 2
`

// webStates is what l reports of web's instances, each as state/instance,
// sorted.
func webStates(l *LRM) []string {
	var out []string
	for _, r := range l.Report().Resources {
		if r.Resource == "web" {
			out = append(out, fmt.Sprintf("%s/%d", r.State, r.Instance))
		}
	}
	sort.Strings(out)
	return out
}

// A node whose host restarted while it ran two instances of a unique
// clone of clone-node-max 2 (1 and 3) finds both, each apart; on shared
// storage, an instance another node reports (holly's 0) is not probed
// there, let alone adopted.
func TestProbeFindsSeveralUniqueInstances(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &instanceWorld{shared: true, running: map[string]bool{}}
	w.set("holly", "web", 0, true)
	holly := startCloneNodeWith(t, c, w, "holly", uniqueConfig)
	w.set("benji", "web", 1, true)
	w.set("benji", "web", 3, true)
	benji := startCloneNodeWith(t, c, w, "benji", uniqueConfig)
	want := []string{bus.StateStarted + "/1", bus.StateStarted + "/3", bus.StateStopped + "/2"}
	if got := webStates(benji); !slices.Equal(got, want) {
		t.Fatalf("benji reports web %v, want %v (instances 1 and 3 apart; 0 is holly's)", got, want)
	}
	// holly probed first, when only its instance 0 ran: every instance
	// probed, 0 found.
	want = []string{bus.StateStarted + "/0", bus.StateStopped + "/1", bus.StateStopped + "/2", bus.StateStopped + "/3"}
	if got := webStates(holly); !slices.Equal(got, want) {
		t.Fatalf("holly reports web %v, want %v", got, want)
	}
}

// noLeases: clones take no leases.
type noLeases struct{}

func (noLeases) Acquire(context.Context, string, func(time.Time)) (*lease.Lease, error) {
	return nil, errors.New("no leases in this test")
}

func (noLeases) Tenure(context.Context, string) (lease.Tenure, error) {
	return lease.Tenure{}, errors.New("no leases in this test")
}
