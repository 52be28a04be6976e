package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
)

// subjectTally counts the messages published on the bus by kind (the
// subject's second token: heartbeat, state, lease, ...), as one admin
// client subscribed to everything receives them once each.
type subjectTally struct {
	mu    sync.Mutex
	msgs  map[string]int64
	bytes map[string]int64
	conn  *bus.Conn
	sub   *nats.Subscription
}

// tallySubjects connects to member 0 with the admin identity and counts
// until stop.
func (c *cluster) tallySubjects() (*subjectTally, error) {
	f, err := config.Load(c.memberConfig(0))
	if err != nil {
		return nil, err
	}
	conn, err := bus.Connect(bus.ConnectOptions{Topology: f.Topology, Name: "scale-bench",
		Timeout: 5 * time.Second, Logf: func(string, ...any) {}})
	if err != nil {
		return nil, fmt.Errorf("connecting to count the bus's subjects: %v", err)
	}
	t := &subjectTally{msgs: map[string]int64{}, bytes: map[string]int64{}, conn: conn}
	t.sub, err = conn.NC.Subscribe(">", func(m *nats.Msg) {
		kind := msgKind(m)
		t.mu.Lock()
		t.msgs[kind]++
		t.bytes[kind] += int64(len(m.Data) + len(m.Subject))
		t.mu.Unlock()
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribing to every subject: %v", err)
	}
	_ = t.sub.SetPendingLimits(-1, -1)
	return t, nil
}

// kindOf is a subject's kind: "tandem.state.n01" is "state", "$JS.API..."
// is "$JS", "_INBOX.x" is "_INBOX".
func kindOf(subject string) string {
	parts := strings.SplitN(subject, ".", 3)
	if parts[0] == "tandem" && len(parts) > 1 {
		return parts[1]
	}
	return parts[0]
}

// msgKind is the kind a message is counted under: its subject's kind,
// inboxes and JetStream's subjects told apart further.
func msgKind(m *nats.Msg) string {
	switch kind := kindOf(m.Subject); kind {
	case "_INBOX":
		return inboxKind(m)
	case "$JS":
		return apiKind(m.Subject)
	default:
		return kind
	}
}

// inboxKind tells apart what arrives on inboxes: a stream's messages to a
// watcher (a KV watch's consumer, its reply $JS.ACK.STREAM...: "_INBOX
// watch KV_tandem-state") and the replies to requests ("_INBOX reply").
func inboxKind(m *nats.Msg) string {
	if rest, ok := strings.CutPrefix(m.Reply, "$JS.ACK."); ok {
		stream, _, _ := strings.Cut(rest, ".")
		return "_INBOX watch " + stream
	}
	return "_INBOX reply"
}

// apiKind is a JetStream API request's kind, without the stream or
// consumer it names: "$JS.API.STREAM.INFO.KV_x" is "$JS.API.STREAM.INFO".
func apiKind(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) > 4 && parts[1] == "API" && (parts[2] == "STREAM" || parts[2] == "CONSUMER" || parts[2] == "DIRECT") {
		return strings.Join(parts[:4], ".")
	}
	if len(parts) > 3 {
		return strings.Join(parts[:3], ".")
	}
	return subject
}

// stop ends the count and describes it per second over secs, the kinds
// by bytes, largest first.
func (t *subjectTally) stop(secs float64) string {
	_ = t.sub.Unsubscribe()
	t.conn.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	var kinds []string
	for k := range t.msgs {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return t.bytes[kinds[i]] > t.bytes[kinds[j]] })
	var out []string
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%s %.0f msgs/s %.1f KB/s", k, float64(t.msgs[k])/secs, float64(t.bytes[k])/secs/1024))
	}
	return strings.Join(out, "; ")
}
