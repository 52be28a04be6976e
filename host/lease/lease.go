// Package lease fences singletons: a node runs a singleton (the VIP) only
// while it holds that resource's lease in the bus's lease bucket, and stops
// it by itself before the lease could be granted to anyone else.
//
// A lease is a KV key created with a per-key TTL and renewed every TTL/4 by
// a compare-and-swap publish that sets the TTL again. The holder computes its
// own fence deadline from the send time of its last successful renewal:
//
//	deadline = sent + TTL - Margin
//
// The bus stores the renewal after it was sent, so the key cannot expire, and
// nobody else can create it, before the holder's deadline. Ownership is only
// ever concluded from the holder's own acknowledged writes, never from a
// read.
//
// When the bus accepts no writes (its leader for the bucket is gone, e.g. the
// witness died), renewals fail although nobody else can take the lease
// either, but only for now: the TTL keeps running and the key is removed soon
// after a new leader appears, and then anyone could create it. So instead the
// holder asks every other node for a time-bounded promise not to acquire the
// lease; with a promise from all of them it may keep the lease (and the VIP)
// until the earliest promise runs out. docs/leases.md has the whole argument.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Defaults, measured to move a lease in about 1 s (docs/leases.md).
const (
	DefaultTTL    = time.Second
	DefaultMargin = 150 * time.Millisecond
)

// CoordinatorKey is the lease whose holder is the coordinator. Its token
// fences the coordinator's plans (docs/leases.md, "Fenced plans").
const CoordinatorKey = "coordinator"

// Errors Acquire returns.
var (
	ErrHeld     = errors.New("lease held by another node")
	ErrPromised = errors.New("this node promised not to acquire the lease yet")
	ErrClosed   = errors.New("lease manager closed")
	ErrMixed    = errors.New("members keep leases in two ways ([bus] leases differs)")
	// ErrContended (leases by grants) means other nodes asked for the
	// key at the same time and no one got a majority: each released its
	// grants, and should ask again after a random pause. It is also
	// ErrHeld.
	ErrContended = fmt.Errorf("%w: asked for by several nodes at once", ErrHeld)
)

// Config says how leases are kept.
type Config struct {
	Conn   *bus.Conn
	Node   string           // this node
	Peers  func() []string  // the other nodes that could take a lease (not the witness)
	TTL    time.Duration    // key TTL (default DefaultTTL)
	Margin time.Duration    // safety margin before the TTL (default DefaultMargin)
	Now    func() time.Time // monotonic clock; tests may slow it down
	Logger *slog.Logger
	// Renewed, when set, is told how long each renewal's write to the bus
	// took and whether it succeeded (metrics).
	Renewed func(took time.Duration, ok bool)
	// Grants: leases are granted by a majority of Voters (grants.go)
	// instead of kept in the lease bucket; `[bus] leases = "grants"`.
	Grants bool
	Voters func() []string // every voter's name (nodes and the witness)
	// Mixed, when set, names the members that keep leases another way
	// (membership.Tracker.LeaseMismatch; "" none): while there are any,
	// Acquire refuses (ErrMixed), and leases held are only renewed.
	Mixed func() string
}

// Manager keeps this node's leases and answers other nodes' promise requests.
type Manager struct {
	cfg      Config
	kv       jetstream.KeyValue
	log      *slog.Logger
	sub      *nats.Subscription
	mu       sync.Mutex
	promised map[string]time.Time // key -> until when we promised not to acquire it
	creating map[string]int       // key -> Create calls in flight (no promise meanwhile)
	held     map[string]*Lease
	closed   bool
	stop     chan struct{} // closed by Close: ends renewAll
	lostN    atomic.Uint64 // leases lost (fenced), not released

	setsMu sync.Mutex
	sets   map[string]string // voter -> digest of the renew-all set it acknowledged (grants)
}

// NewManager opens the lease bucket and starts answering promise requests.
func NewManager(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultMargin
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Margin >= cfg.TTL/2 {
		return nil, fmt.Errorf("lease margin %s must be less than half the TTL %s", cfg.Margin, cfg.TTL)
	}
	if cfg.Grants && (cfg.Voters == nil || len(cfg.Voters()) == 0) {
		return nil, errors.New("leases by grants need the voters' names")
	}
	kv, err := cfg.Conn.JS.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		return nil, fmt.Errorf("lease bucket: %w", err)
	}
	m := &Manager{cfg: cfg, kv: kv, log: cfg.Logger.With("component", "lease"),
		promised: map[string]time.Time{}, creating: map[string]int{}, held: map[string]*Lease{}, stop: make(chan struct{})}
	m.sub, err = cfg.Conn.NC.Subscribe(bus.SubjectLeasePromise(cfg.Node), m.answerPromise)
	if err != nil {
		return nil, fmt.Errorf("promise subject: %w", err)
	}
	// The server knows of the subscription once the flush returns: a
	// promise asked for right after NewManager must find it.
	if err := cfg.Conn.NC.FlushTimeout(5 * time.Second); err != nil {
		m.sub.Unsubscribe()
		return nil, fmt.Errorf("promise subject: %w", err)
	}
	if cfg.Grants {
		go m.renewAll(m.stop)
	}
	return m, nil
}

// Key is the bucket key of a resource's lease: cib.LeaseKey, so that
// validation refuses two resources that would share one.
func Key(resource string) string { return cib.LeaseKey(resource) }

// Lease is a lease this node holds.
type Lease struct {
	m    *Manager
	key  string
	lost chan struct{} // closed when the lease is lost or released
	// token is the revision that created this tenure (see Holder.Token).
	token uint64

	mu       sync.Mutex
	rev      uint64
	deadline time.Time // fence deadline: after it, the holder must not act as holder
	done     bool
	degraded bool // the last renewal needed promises (touched by keep's goroutine only)
	stop     chan struct{}
	kept     chan struct{} // closed when keep has returned (no renewal in flight)
	onRenew  func(deadline time.Time)
	// granted: the deadlines of renewals by grants (Manager.renewAll),
	// the latest only.
	granted chan time.Time
}

// renewedBy hands keep a new deadline from a renewal by grants.
func (l *Lease) renewedBy(d time.Time) {
	for {
		select {
		case l.granted <- d:
			return
		default:
		}
		select {
		case <-l.granted: // an older one not taken yet
		default:
		}
	}
}

// Holder is the value stored under a lease key.
type Holder struct {
	Node string    `json:"node"`
	At   time.Time `json:"at"`
	// Token is the fencing token of this tenure: the bus revision of the
	// Create that began it. It stays the same across renewals and changes
	// only when the lease is acquired anew, so a later tenure always has a
	// larger token. The creating write itself cannot know its revision and
	// carries none (its Fences flag says the token is its own revision);
	// the first renewal writes it. Older builds write neither (see Tenure).
	Token uint64 `json:"token,omitempty"`
	// Fences: the holder's build fences (sends tokens with its plans).
	Fences bool `json:"fences,omitempty"`
}

// Acquire takes the lease on key for this node, or fails with ErrHeld (the
// key exists for another node) or ErrPromised. If the key holds this node's
// own value (a renewal of a previous incarnation that is still live), it is
// adopted. onRenew is called with the new fence deadline after each
// successful renewal (the VIP plugin's hold is extended from it).
func (m *Manager) Acquire(ctx context.Context, key string, onRenew func(deadline time.Time)) (*Lease, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if until, ok := m.promised[key]; ok && m.cfg.Now().Before(until) {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w (until %s)", ErrPromised, until.Format(time.StampMilli))
	}
	if l := m.held[key]; l != nil && !l.isDone() {
		m.mu.Unlock()
		return l, nil
	}
	if m.cfg.Mixed != nil {
		if who := m.cfg.Mixed(); who != "" {
			m.mu.Unlock()
			return nil, fmt.Errorf("%w: %s; this node's is %q: give every member's cluster file the same [bus] leases and restart them (docs/leases.md)",
				ErrMixed, who, map[bool]string{true: bus.LeasesGrants, false: bus.LeasesBucket}[m.cfg.Grants])
		}
	}
	if m.cfg.Grants {
		m.mu.Unlock()
		return m.acquireGrants(ctx, key, onRenew)
	}
	// While a Create is in flight it may still commit, so no promise not
	// to acquire can be given until it has returned.
	m.creating[key]++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.creating[key]--
		m.mu.Unlock()
	}()

	value, _ := json.Marshal(Holder{Node: m.cfg.Node, At: time.Now(), Fences: true})
	sent := m.cfg.Now()
	var token uint64 // this tenure's: the revision of the Create, or the adopted one's
	rev, err := m.kv.Create(ctx, key, value, jetstream.KeyTTL(m.cfg.TTL))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("acquiring lease %s: %w", key, err)
		}
		// Create also says "exists" when its internal read failed: look.
		e, gerr := m.kv.Get(ctx, key)
		if gerr != nil {
			return nil, fmt.Errorf("acquiring lease %s: %w (and reading it: %w)", key, err, gerr)
		}
		var h Holder
		if json.Unmarshal(e.Value(), &h) != nil || h.Node != m.cfg.Node {
			return nil, fmt.Errorf("%w: %s holds %s", ErrHeld, h.Node, key)
		}
		// Ours (a previous incarnation's, or a renewal that timed out but
		// committed): renew it on its revision to establish a deadline.
		// The tenure goes on: it keeps its token.
		token = h.Token
		if token == 0 {
			token = e.Revision()
		}
		value, _ = json.Marshal(Holder{Node: m.cfg.Node, At: time.Now(), Token: token, Fences: true})
		sent = m.cfg.Now()
		rev, err = m.renewOnce(ctx, key, e.Revision(), value)
		if err != nil {
			return nil, fmt.Errorf("adopting lease %s: %w", key, err)
		}
	}
	if token == 0 {
		token = rev
	}
	l := &Lease{m: m, key: key, token: token, lost: make(chan struct{}), stop: make(chan struct{}), kept: make(chan struct{}), rev: rev,
		deadline: sent.Add(m.cfg.TTL - m.cfg.Margin), onRenew: onRenew}
	m.mu.Lock()
	m.held[key] = l
	m.mu.Unlock()
	if onRenew != nil {
		onRenew(l.Deadline())
	}
	go l.keep()
	return l, nil
}

// renewOnce writes value on key if it is still at rev, with a fresh TTL.
func (m *Manager) renewOnce(ctx context.Context, key string, rev uint64, value []byte) (uint64, error) {
	ack, err := m.cfg.Conn.JS.Publish(ctx, "$KV."+bus.BucketLeases+"."+key, value,
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(m.cfg.TTL))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// Deadline is the time (on the manager's clock) after which this node must no
// longer act as the holder unless renewed.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Valid says whether this node may still act as the holder: its deadline
// has not passed (a lost or released lease has none).
func (l *Lease) Valid() bool { return l.m.cfg.Now().Before(l.Deadline()) }

// Token is this tenure's fencing token (Holder.Token).
func (l *Lease) Token() uint64 { return l.token }

// Lost is closed when the lease is lost (deadline passed without renewal, or
// someone else's write seen) or released.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

func (l *Lease) isDone() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// keep renews the lease every TTL/4 and fences at the deadline. The fence is
// a timer of its own: a renewal stuck in a blocking call cannot delay it.
func (l *Lease) keep() {
	defer close(l.kept)
	m := l.m
	tick := time.NewTicker(m.cfg.TTL / 4)
	defer tick.Stop()
	fence := time.NewTimer(time.Until(l.Deadline()))
	defer fence.Stop()
	value, _ := json.Marshal(Holder{Node: m.cfg.Node, At: time.Now(), Token: l.token, Fences: true})
	renewed := make(chan time.Time, 1)
	ticks := tick.C
	if l.granted != nil {
		// Renewed by the manager's rounds for every lease (renewAll).
		renewed, ticks = l.granted, nil
	}
	var inflight sync.WaitGroup
	busy := false
	for {
		select {
		case <-l.stop:
			inflight.Wait()
			return
		case <-fence.C:
			if !m.cfg.Now().Before(l.Deadline()) {
				m.log.Warn("lease deadline passed without renewal: fencing", "key", l.key)
				l.lose()
				return
			}
			fence.Reset(time.Until(l.Deadline()))
		case d := <-renewed:
			busy = false
			l.mu.Lock()
			if d.After(l.deadline) {
				l.deadline = d
			}
			deadline := l.deadline
			l.mu.Unlock()
			fence.Reset(time.Until(deadline))
			if l.onRenew != nil {
				l.onRenew(deadline)
			}
		case <-ticks:
			if busy || m.isClosed() {
				continue
			}
			busy = true
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				if d, ok := l.renew(value); ok {
					renewed <- d
				} else {
					renewed <- time.Time{}
				}
			}()
		}
	}
}

// renew tries one renewal and returns the new deadline. When the bus is slow
// to answer (or was the last time), it asks every peer for a promise at the
// same time, so that a leaderless bus costs no time: the deadline must move
// on every cycle. A round of promises that fails (a peer answered late or
// not at all: a busy machine) is asked again while the current deadline
// leaves time for it, so one lost answer does not fence the holder: every
// round stands on its own, its deadline counted from its own send time.
func (l *Lease) renew(value []byte) (time.Time, bool) {
	m := l.m
	type result struct {
		deadline time.Time
		ok       bool
	}
	viaKV := make(chan result, 1)
	viaPromises := make(chan result, 1)
	go func() {
		d, ok := l.renewKV(value)
		viaKV <- result{d, ok}
	}()
	askAfter := m.cfg.TTL / 8
	if l.degraded {
		askAfter = 0
	}
	ask := time.NewTimer(askAfter)
	defer ask.Stop()
	kvDone, asking, asked := false, false, false
	startRound := func() {
		asking, asked = true, true
		go func() {
			d, ok := m.askPromises(l.key)
			viaPromises <- result{d, ok}
		}()
	}
	// Another round is worth asking only if it can end (a peer has TTL/4
	// to answer) before the deadline it would extend.
	roundFits := func() bool {
		return !l.isDone() && m.cfg.Now().Add(m.cfg.TTL/4).Before(l.Deadline())
	}
	for {
		select {
		case r := <-viaKV:
			kvDone = true
			if r.ok {
				l.degraded = false
				return r.deadline, true
			}
			if l.isDone() {
				return time.Time{}, false
			}
			if !asked {
				startRound()
			} else if !asking && !roundFits() {
				l.degraded = true
				return time.Time{}, false
			}
		case <-ask.C:
			if !asking && (!asked || roundFits()) {
				startRound()
			} else if !asking && kvDone {
				l.degraded = true
				return time.Time{}, false
			}
		case r := <-viaPromises:
			asking = false
			if r.ok {
				// The KV attempt may still succeed later; it then only
				// moves the revision forward.
				l.degraded = true
				return r.deadline, true
			}
			if kvDone && !roundFits() {
				l.degraded = true
				return time.Time{}, false
			}
			// Ask again shortly (not at once: a peer that refused at
			// once, or no responder, would make this a busy loop).
			ask.Reset(m.cfg.TTL / 16)
		}
	}
}

// renewKV renews the key; on a revision mismatch it finds out whether the key
// is still ours (continue), gone (re-create) or someone else's (fence).
func (l *Lease) renewKV(value []byte) (time.Time, bool) {
	m := l.m
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.TTL/2)
	defer cancel()
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	sent := m.cfg.Now()
	began := time.Now()
	newRev, err := m.renewOnce(ctx, l.key, rev, value)
	if m.cfg.Renewed != nil {
		m.cfg.Renewed(time.Since(began), err == nil)
	}
	if err == nil {
		l.setRev(newRev)
		return sent.Add(m.cfg.TTL - m.cfg.Margin), true
	}
	if isCASMismatch(err) {
		// A renewal that timed out may have committed (the key is ours at
		// a newer revision), or the key expired while the bus had no
		// leader and our promises kept it (it is gone). Anyone else's
		// value means we lost it.
		e, gerr := m.kv.Get(ctx, l.key)
		var h Holder
		switch {
		case gerr == nil && json.Unmarshal(e.Value(), &h) == nil && h.Node == m.cfg.Node:
			sent = m.cfg.Now()
			if newRev, err = m.renewOnce(ctx, l.key, e.Revision(), value); err == nil {
				l.setRev(newRev)
				return sent.Add(m.cfg.TTL - m.cfg.Margin), true
			}
		case errors.Is(gerr, jetstream.ErrKeyNotFound) || errors.Is(gerr, jetstream.ErrKeyDeleted):
			sent = m.cfg.Now()
			if newRev, err = m.kv.Create(ctx, l.key, value, jetstream.KeyTTL(m.cfg.TTL)); err == nil {
				m.log.Info("lease re-created after it expired on a leaderless bus", "key", l.key)
				l.setRev(newRev)
				return sent.Add(m.cfg.TTL - m.cfg.Margin), true
			}
			if errors.Is(err, jetstream.ErrKeyExists) {
				m.log.Warn("lease taken by another node: fencing", "key", l.key)
				l.lose()
				return time.Time{}, false
			}
		case gerr == nil:
			m.log.Warn("lease taken by another node: fencing", "key", l.key, "holder", h.Node)
			l.lose()
			return time.Time{}, false
		}
	}
	return time.Time{}, false
}

func (l *Lease) setRev(rev uint64) {
	l.mu.Lock()
	l.rev = rev
	l.mu.Unlock()
}

func isCASMismatch(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10164)
}

// Release gives the lease up: it stops renewing and deletes the key so
// another node can take it at once. Call it after the resource is stopped.
func (l *Lease) Release(ctx context.Context) error {
	l.finish()
	// A renewal still in flight may commit a newer revision: wait for it,
	// or the delete below would miss it (revision mismatch).
	select {
	case <-l.kept:
	case <-ctx.Done():
	}
	if l.m.cfg.Grants {
		l.m.releaseGrants(l.key, l.m.cfg.Voters())
		// The record, for status and the others' watches (a later
		// holder's record may be deleted too: nothing decides on it,
		// and a bucket without a leader is no reason to fail).
		_ = l.m.kv.Delete(ctx, l.key)
		return nil
	}
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	return l.m.kv.Delete(ctx, l.key, jetstream.LastRevision(rev))
}

// lose fences: the lease is over without having been released.
func (l *Lease) lose() {
	if l.finish() {
		l.m.lostN.Add(1)
	}
}

// Singletons is how many leases this node holds other than the
// coordinator's: the singletons (resources, promoted roles) whose move
// waits for the lease bucket. The bus's leaders keep away from the nodes
// that hold them (bus.PlaceLeader).
func (m *Manager) Singletons() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for key := range m.held {
		if key != CoordinatorKey {
			n++
		}
	}
	return n
}

// LostCount is how many leases this manager lost (fenced at their deadline
// or taken by another node) rather than released.
func (m *Manager) LostCount() uint64 { return m.lostN.Load() }

// finish ends the lease; it says whether it was still held.
func (l *Lease) finish() bool {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return false
	}
	l.done = true
	l.deadline = time.Time{}
	l.mu.Unlock()
	close(l.stop)
	close(l.lost)
	l.m.mu.Lock()
	if l.m.held[l.key] == l {
		delete(l.m.held, l.key)
	}
	l.m.mu.Unlock()
	return true
}

// Close stops answering promises and stops renewing every lease: each is
// then lost at its deadline, as after a crash. Release leases first (after
// stopping what they fence) to hand them over at once.
func (m *Manager) Close() {
	m.mu.Lock()
	if !m.closed {
		close(m.stop)
	}
	m.closed = true
	m.mu.Unlock()
	if m.sub != nil {
		_ = m.sub.Unsubscribe()
	}
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}
