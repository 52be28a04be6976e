package lease

// Grants: leases kept by a majority of the voters' grants over core NATS,
// so that neither taking nor keeping a lease waits for a stream leader
// (docs/leases.md, "Leases granted by a majority of the voters"). A cluster
// runs them when its file says `[bus] leases = "grants"`.
//
// Each voter's daemon runs a Granter. It grants (key, holder) for one TTL
// from the moment it receives the request, on its own monotonic clock,
// unless its grant of key to another holder is still running; the current
// holder's request renews. A granter that has just started grants nothing
// for one TTL: it may have forgotten grants it gave before it stopped.
// A holder holds the key once a majority of the voters granted its request
// sent at s, until s + TTL - Margin: each of those grants was given after s
// and lasts past that. Two majorities share a voter, which refuses the
// second holder while the first's grant runs, so two holders never overlap.
//
// Fencing tokens: a granter counts, per key, the tenures it granted; a
// grant's count is one more than the largest count it knows for the key (at
// least its wall clock's milliseconds, so that a restarted granter's counts
// go on rising), and the holder's token is the largest count of its
// granting majority.
// Before the holder uses its token it has a majority of the voters record
// it (a renewal carries the token, and a granter raises its count to it),
// so any later majority shares a voter that knows it, and a later tenure's
// token is larger.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
)

// Kinds of grant request.
const (
	grantAcquire = "acquire"
	grantRenew   = "renew"
	grantRelease = "release"
	// grantRenewAll renews every key of Items at once: a node renews all
	// its leases with one request per voter.
	grantRenewAll = "renew-all"
)

type grantRequest struct {
	Op     string      `json:"op"`
	Key    string      `json:"key,omitempty"`
	Holder string      `json:"holder"`
	Token  uint64      `json:"token,omitempty"` // renew: the tenure's token
	Items  []grantItem `json:"items,omitempty"` // renew-all
	// Compact (renew-all) asks for a reply that only counts the items
	// when every one is granted (grantReply.All): a node renews all its
	// leases 4 times a second with every voter, and the reply of one
	// item each was most of the bus's bytes at rest. A granter of an
	// older build ignores it and answers item by item, which the
	// requester reads as before.
	Compact bool `json:"compact,omitempty"`
	// Set (renew-all) is the digest of Items (setDigest). A request
	// that carries Items and its digest asks the granter to remember
	// them; one that carries the digest alone asks it to renew the
	// items it remembers under that digest for Holder. Between changes
	// of a node's leases, a renewal is then a few dozen bytes instead of
	// every key and token. A granter that does not remember the set
	// answers Unknown, and the holder sends the items again; one of an
	// older build does not echo the digest, and gets the items always.
	Set string `json:"set,omitempty"`
}

// grantItem is one key of a renew-all request.
type grantItem struct {
	Key   string `json:"key"`
	Token uint64 `json:"token"`
}

type grantReply struct {
	Items   []grantReply `json:"items,omitempty"` // renew-all: one per item, in order
	All     int          `json:"all,omitempty"`   // renew-all, compact: this many items, every one granted, instead of Items
	Granted bool         `json:"granted"`
	Count   uint64       `json:"count,omitempty"`  // the tenure's count at this voter
	Holder  string       `json:"holder,omitempty"` // refused: who holds the grant
	Reason  string       `json:"reason,omitempty"`
	Set     string       `json:"set,omitempty"`     // renew-all: the digest of the items renewed, which the granter remembers
	Unknown bool         `json:"unknown,omitempty"` // renew-all by digest: the granter does not remember that set; send the items
}

// renewSet is the items of a holder's last renew-all that named its
// digest, as a granter remembers them.
type renewSet struct {
	digest string
	items  []grantItem
}

// setDigest is the digest of a renew-all request's items, in their order
// (the holder sends them sorted by key): 128 bits of SHA-256 over each
// key and token.
func setDigest(items []grantItem) string {
	h := sha256.New()
	for _, it := range items {
		fmt.Fprintf(h, "%s\x00%d\n", it.Key, it.Token)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

type grant struct {
	holder string
	until  time.Time // on the granter's clock; zero: released
	count  uint64
}

// Granter is a voter's side of the grants.
type Granter struct {
	name    string
	ttl     time.Duration
	now     func() time.Time
	started time.Time
	wall    func() time.Time // the wall clock (tokens)
	log     *slog.Logger
	sub     *nats.Subscription

	mu     sync.Mutex
	grants map[string]*grant
	sets   map[string]renewSet // holder -> its last renew-all set (digest renewals); made by renewAll
}

// NewGranter answers grant requests on bus.SubjectLeaseGrant(name) of conn.
// now is a monotonic clock (time.Now; tests may slow it); ttl the clusters'
// lease TTL.
func NewGranter(conn *bus.Conn, name string, ttl time.Duration, now func() time.Time, log *slog.Logger) (*Granter, error) {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	g := &Granter{name: name, ttl: ttl, now: now, wall: time.Now, started: now(), log: log.With("component", "lease-granter"), grants: map[string]*grant{}}
	var err error
	g.sub, err = conn.NC.Subscribe(bus.SubjectLeaseGrant(name), g.answer)
	if err != nil {
		return nil, fmt.Errorf("lease grant subject: %w", err)
	}
	if err := conn.NC.FlushTimeout(5 * time.Second); err != nil {
		_ = g.sub.Unsubscribe()
		return nil, fmt.Errorf("lease grant subject: %w", err)
	}
	return g, nil
}

// Close stops answering.
func (g *Granter) Close() { _ = g.sub.Unsubscribe() }

func (g *Granter) answer(msg *nats.Msg) {
	var req grantRequest
	if json.Unmarshal(msg.Data, &req) != nil || req.Holder == "" || (req.Key == "") == (req.Op != grantRenewAll) {
		return
	}
	var reply grantReply
	if req.Op == grantRenewAll {
		reply = g.renewAll(req)
	} else {
		reply = g.decide(req)
	}
	if msg.Reply == "" {
		return
	}
	data, _ := json.Marshal(reply)
	_ = msg.Respond(data)
}

// renewAll applies a renew-all request, item by item: the items it
// carries or, when it carries only a digest, the items remembered under it.
func (g *Granter) renewAll(req grantRequest) grantReply {
	if req.Set != "" {
		g.mu.Lock()
		if g.sets == nil {
			g.sets = map[string]renewSet{}
		}
		if len(req.Items) == 0 {
			known := g.sets[req.Holder]
			if known.digest != req.Set {
				g.mu.Unlock()
				return grantReply{Unknown: true, Reason: g.name + " does not know that set of " + req.Holder + "'s leases"}
			}
			req.Items = known.items
		} else if setDigest(req.Items) == req.Set {
			g.sets[req.Holder] = renewSet{digest: req.Set, items: req.Items}
		} else {
			req.Set = "" // not its items' digest: renew the items, remember nothing
		}
		g.mu.Unlock()
	}
	reply := grantReply{Granted: true, Set: req.Set}
	all := true
	for _, it := range req.Items {
		r := g.decide(grantRequest{Op: grantRenew, Key: it.Key, Holder: req.Holder, Token: it.Token})
		all = all && r.Granted
		reply.Items = append(reply.Items, r)
	}
	if req.Compact && all && len(req.Items) > 0 {
		reply.Items, reply.All = nil, len(req.Items)
	}
	return reply
}

// decide applies one request, on receipt.
func (g *Granter) decide(req grantRequest) grantReply {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	gr := g.grants[req.Key]
	if gr == nil {
		gr = &grant{}
		g.grants[req.Key] = gr
	}
	running := gr.holder != "" && now.Before(gr.until)
	switch req.Op {
	case grantRelease:
		if gr.holder == req.Holder {
			gr.holder, gr.until = "", time.Time{}
		}
		return grantReply{Granted: true, Count: gr.count}
	case grantAcquire, grantRenew:
	default:
		return grantReply{Reason: "unknown request " + req.Op}
	}
	if now.Sub(g.started) < g.ttl {
		return grantReply{Reason: g.name + " started less than a lease TTL ago"}
	}
	if running && gr.holder != req.Holder {
		return grantReply{Holder: gr.holder, Reason: gr.holder + " holds it"}
	}
	if req.Token > gr.count {
		gr.count = req.Token // a tenure this voter learns of
	}
	if (!running || gr.holder != req.Holder) && req.Op == grantAcquire {
		// A new tenure. Its count is at least the wall clock's
		// milliseconds: a granter that restarted has forgotten its
		// counts, and a later tenure begins at least a TTL after an
		// earlier one was granted, more than the clocks' skew.
		gr.count = max(gr.count+1, uint64(g.wall().UnixMilli()))
	}
	gr.holder, gr.until = req.Holder, now.Add(g.ttl)
	return grantReply{Granted: true, Count: gr.count}
}

// Holders returns, for each key with a running grant, its holder (status,
// tests).
func (g *Granter) Holders() map[string]string {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]string{}
	for k, gr := range g.grants {
		if gr.holder != "" && now.Before(gr.until) {
			out[k] = gr.holder
		}
	}
	return out
}

// grantRound is one request to every voter and what a majority of them
// said.
type grantRound struct {
	sent    time.Time // on the holder's clock, before the first request left
	granted []string  // the voters that granted
	count   uint64    // the largest count among them
	holders []string  // holders named by refusals, sorted, deduplicated
	refused int       // refusals that named another holder
}

// askEach sends req to every voter in parallel (each answer awaited at
// most wait) and hands each answer to each (ok: it came and decoded) until
// each says it has enough or every voter has answered.
func (m *Manager) askEach(req grantRequest, wait time.Duration, each func(voter string, r grantReply, ok bool) (enough bool)) {
	data, _ := json.Marshal(req)
	m.askEachBy(func(voter string) (grantReply, bool) { return m.ask(voter, data, wait) }, each)
}

// ask sends one request to voter and waits at most wait for its answer
// (ok: it came and decoded).
func (m *Manager) ask(voter string, data []byte, wait time.Duration) (grantReply, bool) {
	msg, err := m.cfg.Conn.NC.Request(bus.SubjectLeaseGrant(voter), data, wait)
	var r grantReply
	ok := err == nil && json.Unmarshal(msg.Data, &r) == nil
	return r, ok
}

// askEachBy asks every voter in parallel, each by ask, and hands each
// answer to each as askEach does.
func (m *Manager) askEachBy(ask func(voter string) (grantReply, bool), each func(voter string, r grantReply, ok bool) (enough bool)) {
	voters := m.cfg.Voters()
	type answer struct {
		voter string
		r     grantReply
		ok    bool
	}
	answers := make(chan answer, len(voters))
	for _, v := range voters {
		go func() {
			r, ok := ask(v)
			answers <- answer{v, r, ok}
		}()
	}
	for range voters {
		if a := <-answers; each(a.voter, a.r, a.ok) {
			return
		}
	}
}

// askVoters sends req to every voter and returns once a majority granted,
// every voter answered, or wait passed.
func (m *Manager) askVoters(req grantRequest, wait time.Duration) grantRound {
	round := grantRound{sent: m.cfg.Now()}
	holders := map[string]bool{}
	m.askEach(req, wait, func(voter string, r grantReply, ok bool) bool {
		switch {
		case ok && r.Granted:
			round.granted = append(round.granted, voter)
			round.count = max(round.count, r.Count)
		case ok && r.Holder != "":
			holders[r.Holder] = true
			round.refused++
		}
		return m.majority(len(round.granted))
	})
	for h := range holders {
		round.holders = append(round.holders, h)
	}
	sort.Strings(round.holders)
	return round
}

// majority says whether n voters are a majority of them.
func (m *Manager) majority(n int) bool { return n >= len(m.cfg.Voters())/2+1 }

// acquireGrants takes key by a majority's grants.
func (m *Manager) acquireGrants(ctx context.Context, key string, onRenew func(time.Time)) (*Lease, error) {
	wait := m.cfg.TTL / 4
	r := m.askVoters(grantRequest{Op: grantAcquire, Key: key, Holder: m.cfg.Node}, wait)
	if !m.majority(len(r.granted)) {
		// Every voter: one that granted after its answer's wait ran out
		// would keep the key from the others for a TTL.
		m.releaseGrants(key, m.cfg.Voters())
		switch {
		case len(r.holders) > 0 && len(r.granted) > 0:
			// Others asked at the same time: the voters split.
			return nil, fmt.Errorf("%w: %v also asked for %s (granted by %d of %d voters)", ErrContended, r.holders, key, len(r.granted), len(m.cfg.Voters()))
		case len(r.holders) > 0:
			return nil, fmt.Errorf("%w: %v hold %s (granted by %d of %d voters)", ErrHeld, r.holders, key, len(r.granted), len(m.cfg.Voters()))
		}
		return nil, fmt.Errorf("acquiring lease %s: %w: granted by %d of %d voters, not a majority", key, bus.ErrNoQuorum, len(r.granted), len(m.cfg.Voters()))
	}
	deadline := r.sent.Add(m.cfg.TTL - m.cfg.Margin)
	// The token is used (plans fenced with it) only once a majority has
	// recorded it: renew with it at once.
	token := r.count
	rr := m.askVoters(grantRequest{Op: grantRenew, Key: key, Holder: m.cfg.Node, Token: token}, wait)
	if !m.majority(len(rr.granted)) || ctx.Err() != nil {
		m.releaseGrants(key, m.cfg.Voters())
		return nil, fmt.Errorf("acquiring lease %s: %w: its token was recorded by %d of %d voters, not a majority", key, bus.ErrNoQuorum, len(rr.granted), len(m.cfg.Voters()))
	}
	if d := rr.sent.Add(m.cfg.TTL - m.cfg.Margin); d.After(deadline) {
		deadline = d
	}
	if !m.cfg.Now().Before(deadline) {
		m.releaseGrants(key, m.cfg.Voters())
		return nil, fmt.Errorf("acquiring lease %s: the voters answered too late", key)
	}
	l := &Lease{m: m, key: key, token: token, lost: make(chan struct{}), stop: make(chan struct{}), kept: make(chan struct{}),
		deadline: deadline, onRenew: onRenew, granted: make(chan time.Time, 1)}
	m.mu.Lock()
	m.held[key] = l
	m.mu.Unlock()
	m.writeRecord(key, token, key == CoordinatorKey)
	if onRenew != nil {
		onRenew(l.Deadline())
	}
	go l.keep()
	return l, nil
}

// renewAll renews every lease this node holds by grants, every TTL/4,
// with one request per voter for all of them: each lease whose key a
// majority granted gets the round's deadline; one that a majority granted
// to another holder is lost at once (this node was cut off or frozen past
// its deadline).
func (m *Manager) renewAll(stop <-chan struct{}) {
	tick := time.NewTicker(m.cfg.TTL / 4)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if m.isClosed() {
			return
		}
		m.mu.Lock()
		var leases []*Lease
		for _, l := range m.held {
			if !l.isDone() {
				leases = append(leases, l)
			}
		}
		m.mu.Unlock()
		if len(leases) > 0 {
			m.renewRound(leases)
		}
	}
}

// renewRound is one renew-all request to every voter, for leases: its
// items to a voter that has not acknowledged their set yet, their digest
// alone to one that has (and the items at once if it answers that it
// forgot them, or ignores the digest). Every request leaves after sent, so each
// grant runs past the round's deadline whichever of them it answers.
func (m *Manager) renewRound(leases []*Lease) {
	sort.Slice(leases, func(i, j int) bool { return leases[i].key < leases[j].key })
	items := make([]grantItem, len(leases))
	for i, l := range leases {
		items[i] = grantItem{Key: l.key, Token: l.token}
	}
	digest := setDigest(items)
	full, _ := json.Marshal(grantRequest{Op: grantRenewAll, Holder: m.cfg.Node, Compact: true, Items: items, Set: digest})
	short, _ := json.Marshal(grantRequest{Op: grantRenewAll, Holder: m.cfg.Node, Compact: true, Set: digest})
	sent := m.cfg.Now()
	began := time.Now()
	// Each answer is awaited until the round's deadline, not for a tick
	// only: a grant that comes late (a voter, or this node, slowed by a
	// loaded machine or a pause) still renews to the deadline, which
	// counts from before the first request. Past the deadline a grant is
	// worth nothing. A round ends as soon as a majority granted every
	// lease, so a voter that is down or slow holds it up only when a
	// majority are.
	until := began.Add(m.cfg.TTL - m.cfg.Margin)
	wait := func() time.Duration { return max(time.Until(until), time.Millisecond) }
	granted := make([]int, len(leases))
	refused := make([]int, len(leases))
	m.askEachBy(func(voter string) (grantReply, bool) {
		if m.setKnownBy(voter, digest) {
			// An answer that does not echo the digest is that it forgot
			// the set (Unknown: it restarted) or ignored it (an older
			// build took the voter's place): send the items.
			r, ok := m.ask(voter, short, wait())
			if !ok || r.Set == digest {
				return r, ok
			}
		}
		r, ok := m.ask(voter, full, wait())
		m.setAcknowledged(voter, digest, ok && r.Set == digest)
		return r, ok
	}, func(_ string, r grantReply, ok bool) bool {
		if ok {
			countRenewals(r, granted, refused)
		}
		for _, g := range granted {
			if !m.majority(g) {
				return false
			}
		}
		return true
	})
	deadline := sent.Add(m.cfg.TTL - m.cfg.Margin)
	ok := true
	for i, l := range leases {
		switch {
		case m.majority(granted[i]):
			l.renewedBy(deadline)
		case m.majority(refused[i]):
			m.log.Warn("lease taken by another node: fencing", "key", l.key)
			l.lose()
			ok = false
		default:
			ok = false
		}
	}
	if m.cfg.Renewed != nil {
		m.cfg.Renewed(time.Since(began), ok)
	}
	for i, l := range leases {
		// The coordinator's record, which status and the others'
		// watches read, lives a TTL past each renewal.
		if l.key == CoordinatorKey && m.majority(granted[i]) {
			m.writeRecord(l.key, l.token, true)
		}
	}
}

// setKnownBy says whether voter acknowledged the set of leases of digest.
func (m *Manager) setKnownBy(voter, digest string) bool {
	m.setsMu.Lock()
	defer m.setsMu.Unlock()
	return m.sets[voter] == digest
}

// setAcknowledged records whether voter acknowledged digest (it echoed it:
// it remembers the items and renews them by digest from now on).
func (m *Manager) setAcknowledged(voter, digest string, acknowledged bool) {
	m.setsMu.Lock()
	defer m.setsMu.Unlock()
	if m.sets == nil {
		m.sets = map[string]string{}
	}
	if acknowledged {
		m.sets[voter] = digest
	} else {
		delete(m.sets, voter)
	}
}

// countRenewals adds one voter's reply to a renew-all request of
// len(granted) items to the counts of grants and refusals, item by item: a
// compact reply (All) grants them all; a reply of another length counts
// for nothing.
func countRenewals(r grantReply, granted, refused []int) {
	switch {
	case len(r.Items) == 0 && r.All == len(granted) && r.All > 0:
		for i := range granted {
			granted[i]++
		}
	case len(r.Items) == len(granted):
		for i, it := range r.Items {
			switch {
			case it.Granted:
				granted[i]++
			case it.Holder != "":
				refused[i]++
			}
		}
	}
}

// releaseGrants asks voters to drop this node's grant of key (no answer
// awaited).
func (m *Manager) releaseGrants(key string, voters []string) {
	data, _ := json.Marshal(grantRequest{Op: grantRelease, Key: key, Holder: m.cfg.Node})
	for _, v := range voters {
		_ = m.cfg.Conn.NC.Publish(bus.SubjectLeaseGrant(v), data)
	}
	_ = m.cfg.Conn.NC.Flush()
}

// writeRecord writes the lease's record to the lease bucket, without
// waiting: nothing decides on it, and a bucket without a leader must not
// slow the holder. The coordinator's (renewing, with the TTL) is what
// `tandem status` and the others' watches read; a singleton's is written
// when it is taken and deleted when it is released, without a TTL (a
// record renewed with every lease would cost the bucket a write per lease
// 4 times a second, which grants exist to avoid): it names the last node
// that took the lease.
func (m *Manager) writeRecord(key string, token uint64, withTTL bool) {
	value, _ := json.Marshal(Holder{Node: m.cfg.Node, At: time.Now(), Token: token, Fences: true})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.TTL/2)
		defer cancel()
		var opts []jetstream.PublishOpt
		if withTTL {
			opts = append(opts, jetstream.WithMsgTTL(m.cfg.TTL))
		}
		_, _ = m.cfg.Conn.JS.Publish(ctx, "$KV."+bus.BucketLeases+"."+key, value, opts...)
	}()
}
