package daemon_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/statuspage"
)

// statusPages starts the scenario with a status page on every member (the
// witness too) and returns their URLs.
func statusPages(t *testing.T) (*daemontest.Cluster, map[string]string) {
	t.Helper()
	c := daemontest.New(t, scenario)
	p := bustest.FreePorts(t, 3)
	c.StatusPage = map[string]string{}
	url := map[string]string{}
	for i, n := range []string{"holly", "benji", "director"} {
		c.StatusPage[n] = fmt.Sprintf("127.0.0.1:%d", p[i])
		url[n] = "http://" + c.StatusPage[n]
	}
	c.StartAll()
	return c, url
}

// sleeperOn waits until the scenario's singleton runs on exactly one node.
func sleeperOn(t *testing.T, c *daemontest.Cluster, not string) string {
	t.Helper()
	var on string
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		w := c.Where("sleeper")
		if len(w) != 1 || w[0] == not {
			return fmt.Errorf("sleeper on %v", w)
		}
		on = w[0]
		return nil
	})
	return on
}

// Each member serves its status page where [status_page] listen says: the
// page, its JSON and its event stream show the resource where it runs,
// and when its node stops the stream shows it started on the other node
// (the page is kept up to date by the node still running).
func TestStatusPageServed(t *testing.T) {
	c, url := statusPages(t)
	client := &http.Client{Timeout: 10 * time.Second}
	on := sleeperOn(t, c, "")
	other := map[string]string{"holly": "benji", "benji": "holly"}[on]
	cell := fmt.Sprintf(`<td data-node="%s" class="started">Started</td>`, on)
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		for _, n := range []string{"holly", "benji", "director"} {
			resp, err := client.Get(url[n] + "/")
			if err != nil {
				return err
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			page := string(b)
			for _, want := range []string{`<tr data-resource="sleeper">`, cell, "partition with quorum", "Served by <b id=\"member\">" + n + "</b>"} {
				if !strings.Contains(page, want) {
					return fmt.Errorf("%s's page lacks %s:\n%s", n, want, page)
				}
			}
		}
		return nil
	})
	for _, path := range []string{"/", "/status.json", "/static/page.js", "/static/page.css"} {
		resp, err := client.Get(url[on] + path)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Logf("%s: %d bytes", path, n)
	}
	// A write is refused.
	resp, err := client.Post(url[other]+"/status.json", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s", resp.Status)
	}

	// Watch the other node's stream while the singleton's node stops.
	resp, err = http.Get(url[other] + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	views := make(chan statuspage.View, 64)
	go func() {
		defer close(views)
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var v statuspage.View
				if json.Unmarshal([]byte(data), &v) == nil {
					views <- v
				}
			}
		}
	}()
	sawOn := func(node string, events bool) {
		t.Helper()
		deadline := time.After(90 * time.Second)
		for {
			select {
			case v, ok := <-views:
				if !ok {
					t.Fatalf("the stream of %s ended", other)
				}
				for _, r := range v.Status.ResourceList {
					if r.ID == "sleeper" && r.Nodes[node] == "Started" && len(r.Nodes) == 1 && (!events || len(v.Events) > 0) {
						return
					}
				}
			case <-deadline:
				t.Fatalf("the stream of %s never showed sleeper started on %s only", other, node)
			}
		}
	}
	sawOn(on, false)
	c.Stop(on)
	sawOn(other, true)
	if w := sleeperOn(t, c, on); w != other {
		t.Fatalf("sleeper on %s", w)
	}
}
