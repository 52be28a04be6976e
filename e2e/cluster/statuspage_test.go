package cluster_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/browser"
	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// statusPageOpts: the reference scenario on this package's /27 (its tests
// run one after the other), every member serving its status page on
// statusPagePort. TANDEM_PAGETEST_SUBNET moves it, for a developer whose
// session has its own range.
func statusPageOpts() lab.Options {
	subnet := "198.18.0.160/27"
	if s := os.Getenv("TANDEM_PAGETEST_SUBNET"); s != "" {
		subnet = s
	}
	return lab.Options{Prefix: "tdpage", Subnet: netip.MustParsePrefix(subnet), Relocate: true, StartTandem: true}
}

const statusPagePort = 9465

// A browser on the host loads the status page of the node that does not
// hold the VIP, then the holder is killed hard: without a reload, the page
// shows the holder OFFLINE and the VIP started on the node it shows.
func TestStatusPageInLab(t *testing.T) {
	ctx := browser.Start(t)
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	opts := statusPageOpts()
	opts.Config = filepath.Join(t.TempDir(), "cluster.toml")
	conf := string(ref) + fmt.Sprintf("\n[status_page]\nlisten = \"0.0.0.0:%d\"\n", statusPagePort)
	if err := os.WriteFile(opts.Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	l := labtest.Start(t, opts)
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if _, err := c.WaitConverged(wctx, c.Nodes[0], c.Nodes); err != nil {
		t.Fatal(err)
	}
	holder, err := c.WaitHolder(wctx, "")
	if err != nil {
		t.Fatal(err)
	}
	other := c.Other(holder)
	m, _ := l.Config().Topology.Member(other)
	url := "http://" + net.JoinHostPort(m.Address, strconv.Itoa(statusPagePort)) + "/"
	if err := browser.Open(ctx, url); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 60*time.Second, 250*time.Millisecond, func() error {
		p, err := browser.Read(ctx, c.VIPResource)
		if err != nil {
			return err
		}
		if p.Live != "1" || p.Resource[holder] != "Started" || p.Resource[other] != "Stopped" {
			return fmt.Errorf("page at %s: %+v", url, p)
		}
		return nil
	})
	if err := browser.Mark(ctx); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := l.Kill(holder); err != nil {
		t.Fatal(err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := l.Restart(rctx, holder); err != nil {
			t.Errorf("restarting %s: %v", holder, err)
		}
	}()
	var last browser.Page
	poll.Until(t, 90*time.Second, 250*time.Millisecond, func() error {
		p, err := browser.Read(ctx, c.VIPResource)
		if err != nil {
			return err
		}
		if p.Reloaded() {
			t.Fatalf("the page was reloaded (%+v): it must update in place", p)
		}
		if p.Nodes[holder] != "OFFLINE" || p.Resource[other] != "Started" {
			return fmt.Errorf("page at %s: %+v", url, p)
		}
		last = p
		return nil
	})
	shown := time.Since(killed)
	if on, err := c.Holders(); err != nil || len(on) != 1 || on[0] != other {
		t.Errorf("the VIP is on %v (%v), the page shows it on %s", on, err, other)
	}
	t.Logf("%s killed: the page on %s showed it OFFLINE and %s started on %s %s later, in place (%s messages)",
		holder, other, c.VIPResource, other, shown.Round(100*time.Millisecond), last.Updates)
}
