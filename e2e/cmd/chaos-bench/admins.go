package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/host/liveconfig"
)

// Two admins edit the live configuration through the CLI while the faults
// go on, each on a member picked at random for every edit: admin k sets the
// priority of its own disabled resource chaos-admin-k to 1, 2, 3... An
// edit the CLI acknowledged (exit 0) must be in the configuration's history
// with that value, after the admin's earlier acknowledged edits.
const admins = 2

// edit is one attempt of an admin.
type edit struct {
	admin, value int
	member       string
	acked        bool
}

type adminRun struct {
	b       *bench
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	edits   []edit
	history map[uint64]liveconfig.Revision // every revision seen, by number
	store   *liveconfig.Store
}

func adminResource(k int) string { return fmt.Sprintf("chaos-admin-%d", k) }

func (b *bench) startAdmins() (*adminRun, error) {
	a := &adminRun{b: b, history: map[uint64]liveconfig.Revision{}}
	for k := 1; k <= admins; k++ {
		// A unit no node has: disabled, it never runs; its probes say "not
		// installed".
		if _, err := b.c.Tandem(b.timeout(time.Minute), b.c.Nodes[0], "resource", "create", adminResource(k),
			fmt.Sprintf("systemd:tandem-chaos-admin-%d", k), "--disabled", "--force"); err != nil {
			return nil, fmt.Errorf("creating %s: %w", adminResource(k), err)
		}
	}
	var err error
	if a.store, err = liveconfig.OpenClient(b.timeout(30*time.Second), b.conn); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(b.ctx)
	a.cancel = cancel
	members := append(append([]string{}, b.c.Nodes...), b.c.Witness)
	for k := 1; k <= admins; k++ {
		rng := rand.New(rand.NewPCG(b.seed, uint64(k)))
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for v := 1; ctx.Err() == nil; v++ {
				m := members[rng.IntN(len(members))]
				ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := b.c.Tandem(ectx, m, "resource", "update", adminResource(k), "meta", fmt.Sprintf("priority=%d", v))
				cancel()
				if ctx.Err() != nil {
					return // cut short by the end of the run: neither acked nor refused
				}
				a.mu.Lock()
				a.edits = append(a.edits, edit{admin: k, value: v, member: m, acked: err == nil})
				a.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(500+rng.IntN(2500)) * time.Millisecond):
				}
			}
		}()
	}
	// The bus keeps the last 64 revisions: read them often enough to see
	// every one.
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for ctx.Err() == nil {
			a.readHistory(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		}
	}()
	return a, nil
}

func (a *adminRun) readHistory(ctx context.Context) {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	h, err := a.store.History(hctx)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range h {
		a.history[r.Rev] = r
	}
}

// stop ends the admins and returns their edits.
func (a *adminRun) stop() []edit {
	a.cancel()
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]edit(nil), a.edits...)
}

// check reads the history a last time and finds each acknowledged edit in
// it: lost when the history was read throughout its time and it is not
// there (or not after the admin's earlier one); unverified when revisions
// around it were never read (the bus keeps 64).
func (a *adminRun) check(ctx context.Context, edits []edit) (lost, unverified []string) {
	a.readHistory(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	var revs []uint64
	for r := range a.history {
		revs = append(revs, r)
	}
	slices.Sort(revs)
	complete := len(revs) > 0 && revs[len(revs)-1]-revs[0]+1 == uint64(len(revs))
	// Where each admin's value first appears.
	at := map[[2]int]uint64{}
	for _, rev := range revs {
		c := a.history[rev].CIB
		for k := 1; k <= admins; k++ {
			if r, _ := c.Resource(adminResource(k)); r != nil && r.Meta.Priority != nil {
				key := [2]int{k, *r.Meta.Priority}
				if _, seen := at[key]; !seen {
					at[key] = rev
				}
			}
		}
	}
	last := map[int]uint64{}
	for _, e := range edits {
		if !e.acked {
			continue
		}
		rev, ok := at[[2]int{e.admin, e.value}]
		what := fmt.Sprintf("admin %d: priority=%d (through %s)", e.admin, e.value, e.member)
		switch {
		case !ok && !complete:
			unverified = append(unverified, what)
		case !ok:
			lost = append(lost, what+": not in the history")
		case rev <= last[e.admin]:
			lost = append(lost, fmt.Sprintf("%s: revision %d, not after the admin's previous edit (revision %d)", what, rev, last[e.admin]))
		default:
			last[e.admin] = rev
		}
	}
	return lost, unverified
}
