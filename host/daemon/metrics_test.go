package daemon_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

// Each node serves /metrics where [metrics] listen says, and the embedded
// NATS server its monitoring endpoints where nats_monitor says: scraped
// here over HTTP from a running cluster, they show the members, quorum,
// the coordinator and the resource running on the node.
func TestMetricsEndpoint(t *testing.T) {
	c := daemontest.New(t, scenario)
	p := bustest.FreePorts(t, 3)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", p[i]) }
	c.Metrics = map[string]bus.Metrics{"holly": {Listen: addr(0), Monitor: addr(1)}, "benji": {Listen: addr(2)}}
	c.StartAll()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(url string) (string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: %s", url, resp.Status)
		}
		return string(body), err
	}
	var sleeperOn string
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		w := c.Where("sleeper")
		if len(w) != 1 {
			return fmt.Errorf("sleeper on %v", w)
		}
		sleeperOn = w[0]
		return nil
	})
	url := map[string]string{"holly": "http://" + addr(0) + "/metrics", "benji": "http://" + addr(2) + "/metrics"}[sleeperOn]
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		body, err := get(url)
		if err != nil {
			return err
		}
		for _, want := range []string{
			`tandem_member_online{member="holly"} 1`, `tandem_member_online{member="benji"} 1`, `tandem_member_online{member="director"} 1`,
			"tandem_quorum 1", "tandem_voters 3", `tandem_resource_state{clone="",instance="",resource="sleeper",state="started"} 1`,
			`tandem_coordinator{node=`, "tandem_bus_rtt_seconds ", "tandem_scrape_bus_ok 1", "go_goroutines ",
		} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("%s lacks %s:\n%s", url, want, grep(body, "tandem_"))
			}
		}
		return nil
	})
	// The latencies recorded as they happen: the lease of the singleton
	// renewed on its node, the example agent's calls there, and the
	// transitions of whichever node coordinates.
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		body, err := get(url)
		if err != nil {
			return err
		}
		for _, want := range []string{
			"tandem_lease_renew_seconds_count ", `tandem_lease_renew_seconds_bucket{le="0.1"} `, "tandem_lease_renew_failures_total 0",
			`tandem_plugin_call_seconds_count{action="start",agent="example:process"} `, `tandem_plugin_call_seconds_bucket{action="monitor",agent="example:process",le="`,
			"tandem_alerts_total 0", "tandem_alert_failures_total 0", "tandem_alerts_dropped_total 0",
		} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("%s lacks %s:\n%s", url, want, grep(body, "tandem_"))
			}
		}
		if strings.Contains(body, "tandem_lease_renew_seconds_count 0\n") {
			return fmt.Errorf("no lease renewal recorded yet")
		}
		both := body
		for _, u := range []string{"http://" + addr(0) + "/metrics", "http://" + addr(2) + "/metrics"} {
			b, err := get(u)
			if err != nil {
				return err
			}
			both += b
		}
		for _, want := range []string{`tandem_transitions_total{outcome="complete"} `, "tandem_transition_seconds_count "} {
			if !strings.Contains(both, want) {
				return fmt.Errorf("no node's metrics have %s:\n%s", want, grep(both, "tandem_transition"))
			}
		}
		return nil
	})
	body, err := get("http://" + addr(1) + "/varz")
	if err != nil || !strings.Contains(body, `"server_name": "holly"`) {
		t.Errorf("NATS monitoring on holly: %v\n%.300s", err, body)
	}
}

// grep keeps the lines of s that start with prefix.
func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
