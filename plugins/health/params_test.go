package health

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

func TestParseCheckDefaults(t *testing.T) {
	c, err := ParseCheck(TypeHTTP, map[string]string{"url": "http://{node_address}/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "http://{node_address}/" || len(c.ExpectStatus) != 1 || c.ExpectStatus[0] != 200 || c.ExpectBody != "" ||
		c.TLSSkipVerify || c.Timeout != DefaultTimeout || c.Rise != DefaultRise || c.Fall != DefaultFall {
		t.Errorf("defaults: %+v", c)
	}
	c, err = ParseCheck(TypeHTTP, map[string]string{"url": "https://x/", "expect_status": "200, 204", "expect_body": "Hello",
		"tls_skip_verify": "yes", "timeout": "3", "rise": "2", "fall": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ExpectStatus) != 2 || c.ExpectStatus[1] != 204 || !c.TLSSkipVerify || c.Timeout != 3*time.Second || c.Rise != 2 || c.Fall != 3 {
		t.Errorf("parsed: %+v", c)
	}
	// An empty expect_status is the default; the body text keeps its spaces.
	if c, err := ParseCheck(TypeHTTP, map[string]string{"url": "http://x/", "expect_status": "", "expect_body": " Hello "}); err != nil ||
		len(c.ExpectStatus) != 1 || c.ExpectStatus[0] != 200 || c.ExpectBody != " Hello " {
		t.Errorf("empty expect_status, spaced body: %+v %v", c, err)
	}
	if c, err := ParseCheck(TypeTCP, map[string]string{"address": "[{node_address}]:80", "timeout": "250ms"}); err != nil || c.Timeout != 250*time.Millisecond {
		t.Errorf("tcp: %+v %v", c, err)
	}
}

func TestParseCheckErrors(t *testing.T) {
	cases := []struct {
		typ    string
		params map[string]string
		want   []string
	}{
		{"", nil, []string{`agent type ""`, "health:http", "health:tcp"}},
		{"icmp", nil, []string{`agent type "icmp"`}},
		{TypeHTTP, map[string]string{}, []string{"url is required"}},
		{TypeHTTP, map[string]string{"url": "ftp://x/"}, []string{`url "ftp://x/": scheme must be http or https`}},
		{TypeHTTP, map[string]string{"url": "http:///path"}, []string{"has no host"}},
		{TypeHTTP, map[string]string{"url": "http://{nodeaddr}/"}, []string{"unknown placeholder {nodeaddr}", "{node_address}"}},
		{TypeHTTP, map[string]string{"url": "http://u:p@x/"}, []string{"credentials"}},
		{TypeHTTP, map[string]string{"url": "http://x/", "expect_status": "20"}, []string{`expect_status "20": must be an HTTP status`}},
		{TypeHTTP, map[string]string{"url": "http://x/", "timeout": "0s"}, []string{`timeout "0s": must be a duration from 1ms to 5m (a bare number is seconds)`}},
		{TypeHTTP, map[string]string{"url": "http://x/", "timout": "1s"}, []string{`unknown parameter "timout": did you mean timeout?`}},
		{TypeHTTP, map[string]string{"url": "ftp://x/", "rise": "0", "expect_status": "99"}, []string{`url "ftp://x/"`, `expect_status "99"`, `rise "0"`}},
		{TypeHTTP, map[string]string{"url": "http://x/", "timeout": "soon"}, []string{`timeout "soon": not a duration`}},
		{TypeHTTP, map[string]string{"url": "http://x/", "rise": "0"}, []string{`rise "0": must be an integer from 1`}},
		{TypeHTTP, map[string]string{"url": "http://x/", "fall": "many"}, []string{`fall "many"`}},
		{TypeHTTP, map[string]string{"url": "http://x/", "tls_skip_verify": "sure"}, []string{`tls_skip_verify "sure": not a boolean`}},
		{TypeHTTP, map[string]string{"url": "http://x/", "address": "x:1"}, []string{`unknown parameter "address"`, "health:http takes url"}},
		{TypeTCP, map[string]string{}, []string{"address is required"}},
		{TypeTCP, map[string]string{"address": "localhost"}, []string{`address "localhost": must be host:port`}},
		{TypeTCP, map[string]string{"address": "localhost:99999"}, []string{"port must be 1-65535"}},
		{TypeTCP, map[string]string{"address": "x:80", "expect_body": "Hello"}, []string{`unknown parameter "expect_body"`}},
	}
	for _, c := range cases {
		_, err := ParseCheck(c.typ, c.params)
		if err == nil {
			t.Errorf("%s %v: accepted", c.typ, c.params)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %v: %q does not say %q", c.typ, c.params, err, w)
			}
		}
	}
}

func TestExpand(t *testing.T) {
	view := &sdk.ClusterView{Nodes: []sdk.NodeView{
		{Name: "holly", Address: "198.18.0.22"},
		{Name: "benji", Address: "2001:db8::24"},
	}}
	cases := []struct {
		typ, target, node, want string
	}{
		{TypeHTTP, "http://{node_address}/", "holly", "http://198.18.0.22/"},
		{TypeHTTP, "http://{node_address}:8080/?n={node}", "benji", "http://[2001:db8::24]:8080/?n=benji"},
		{TypeTCP, "{node_address}:80", "benji", "[2001:db8::24]:80"},
		{TypeTCP, "[{node_address}]:80", "benji", "[2001:db8::24]:80"},
		{TypeTCP, "{node}.example.net:80", "holly", "holly.example.net:80"},
		{TypeTCP, "127.0.0.1:80", "", "127.0.0.1:80"},
	}
	for _, c := range cases {
		got, err := Check{Type: c.typ, Target: c.target}.expand(sdk.Instance{Node: c.node}, view)
		if err != nil || got != c.want {
			t.Errorf("%s for %s: %q, %v; want %q", c.target, c.node, got, err, c.want)
		}
	}
	if _, err := (Check{Type: TypeHTTP, Target: "http://{node_address}/"}).expand(sdk.Instance{Node: "director"}, view); err == nil ||
		!strings.Contains(err.Error(), `node "director" has no address`) {
		t.Errorf("unknown node: %v", err)
	}
	if _, err := (Check{Type: TypeHTTP, Target: "http://{node}/"}).expand(sdk.Instance{}, view); err == nil {
		t.Error("no node: expanded")
	}
}

func TestTracker(t *testing.T) {
	// Each step: check result, then the status it must give (rise 2, fall 3).
	steps := []struct {
		ok   bool
		want Status
	}{
		{true, Up},    // first check decides
		{false, Up},   // 1 of 3
		{false, Up},   // 2 of 3
		{true, Up},    // the run of failures is broken
		{false, Up},   // 1
		{false, Up},   // 2
		{false, Down}, // 3: down
		{true, Down},  // 1 of 2
		{false, Down}, // broken
		{true, Down},  // 1
		{true, Up},    // 2: up
	}
	tr := Tracker{Status: Starting}
	for i, s := range steps {
		tr.Observe(s.ok, 2, 3)
		if tr.Status != s.want {
			t.Fatalf("step %d (ok=%v): %s, want %s (%+v)", i, s.ok, tr.Status, s.want, tr)
		}
	}
	first := Tracker{Status: Starting}
	first.Observe(false, 2, 3)
	if first.Status != Down {
		t.Errorf("a first check that fails: %s, want down", first.Status)
	}
}
