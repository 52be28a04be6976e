package bus

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
)

// MemberStatus is a member's answer to a ping.
type MemberStatus struct {
	Name        string         `json:"name"`
	Witness     bool           `json:"witness,omitempty"`
	Incarnation string         `json:"incarnation"`
	Started     time.Time      `json:"started"`
	Build       string         `json:"build"`
	MetaCurrent bool           `json:"meta_current"` // its JetStream meta group has a leader and is caught up
	Routes      int            `json:"routes"`       // other voters it has routes to
	Daemons     []DaemonStatus `json:"daemons,omitempty"`
	Stopped     bool           `json:"stopped,omitempty"` // a node whose resources are stopped (`tandem cluster stop`)
	// Topology is what the member runs with (its cluster file's bootstrap
	// settings): `tandem config apply` compares a new file with it.
	Topology *Topology `json:"topology,omitempty"`
	Counters *Counters `json:"counters,omitempty"` // a node's tallies since it started
	// Leads lists the bus's Raft groups this member leads ("meta",
	// and bucket names without the "tandem-" prefix).
	Leads []string `json:"leads,omitempty"`
	// Singletons is how many singleton leases a node holds (not the
	// coordinator's); see PlaceLeader.
	Singletons int             `json:"singletons,omitempty"`
	Extra      json.RawMessage `json:"extra,omitempty"` // for later additions by the host
}

// Counters are what a node has tallied since it started: what the flood
// and fencing defences did (docs/leases.md).
type Counters struct {
	MembershipChanges uint64 `json:"membership_changes"` // members seen joining, leaving, restarting, stopping
	ForgedHeartbeats  uint64 `json:"forged_heartbeats"`  // heartbeats ignored: they named another member than their subject
	LeasesLost        uint64 `json:"leases_lost"`        // leases fenced (not released)
	FencedPlans       uint64 `json:"fenced_plans"`       // transitions and aborts dropped: not from the current coordinator
}

// DaemonStatus is one line of "Daemon Status": the host, its bus, each plugin.
type DaemonStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// ServeMembers answers pings with what status returns at that moment.
func ServeMembers(c *Conn, status func() MemberStatus) (*nats.Subscription, error) {
	return c.NC.Subscribe(SubjectPing, func(m *nats.Msg) {
		data, err := json.Marshal(status())
		if err != nil {
			return
		}
		_ = m.Respond(data)
	})
}

// GatherMembers asks every reachable member for its status. It returns when
// expect members answered or timeout passed, sorted by name.
func GatherMembers(c *Conn, expect int, timeout time.Duration) ([]MemberStatus, error) {
	seen := map[string]MemberStatus{}
	err := Gather(c, SubjectPing, nil, expect, timeout, func(data []byte) bool {
		var st MemberStatus
		if json.Unmarshal(data, &st) != nil || st.Name == "" {
			return false
		}
		seen[st.Name] = st
		return true
	})
	out := make([]MemberStatus, 0, len(seen))
	for _, st := range seen {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Gather sends a request on subject and passes each answer to take until
// take has accepted expect answers or timeout passed (scatter-gather: many
// responders, one request).
func Gather(c *Conn, subject string, payload []byte, expect int, timeout time.Duration, take func([]byte) bool) error {
	inbox := c.NC.NewRespInbox()
	sub, err := c.NC.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := c.NC.PublishRequest(subject, inbox, payload); err != nil {
		return fmt.Errorf("request on %s: %w", subject, err)
	}
	deadline := time.Now().Add(timeout)
	for got := 0; got < expect; {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		m, err := sub.NextMsg(left)
		if err != nil {
			break
		}
		if take(m.Data) {
			got++
		}
	}
	return nil
}
