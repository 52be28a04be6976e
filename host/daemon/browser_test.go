package daemon_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/browser"
	"github.com/tandem-ha/tandem/e2e/poll"
)

// A real browser loads a node's status page and, without reloading it,
// sees the singleton move when its node stops: the page's DOM follows the
// event stream. (e2e/cluster TestStatusPageInLab does the same against a
// lab member with a node killed.)
func TestStatusPageInBrowser(t *testing.T) {
	ctx := browser.Start(t)
	c, url := statusPages(t)
	on := sleeperOn(t, c, "")
	other := map[string]string{"holly": "benji", "benji": "holly"}[on]
	if err := browser.Open(ctx, url[other]+"/"); err != nil {
		t.Fatal(err)
	}
	// Live, and showing the singleton where it runs; then mark the
	// document, so a reload (which would lose the mark) cannot pass.
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		p, err := browser.Read(ctx, "sleeper")
		if err != nil {
			return err
		}
		if p.Live != "1" || p.Resource[on] != "Started" {
			return fmt.Errorf("page: %+v", p)
		}
		return nil
	})
	if err := browser.Mark(ctx); err != nil {
		t.Fatal(err)
	}
	c.Stop(on)
	var last browser.Page
	poll.Until(t, 90*time.Second, 250*time.Millisecond, func() error {
		p, err := browser.Read(ctx, "sleeper")
		if err != nil {
			return err
		}
		if p.Reloaded() {
			t.Fatalf("the page was reloaded (%+v): it must update in place", p)
		}
		if p.Resource[other] != "Started" || p.Resource[on] != "Stopped" || p.Nodes[on] != "OFFLINE" {
			return fmt.Errorf("page: %+v", p)
		}
		last = p
		return nil
	})
	t.Logf("the page on %s showed sleeper move from %s (and %s OFFLINE) in place, after %s messages over its event stream", other, on, on, last.Updates)
}
