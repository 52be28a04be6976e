package daemon_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/e2e/priv"
)

// chromium finds a headless-capable Chromium; without one the test skips,
// unless TANDEM_REQUIRE_PRIV=1 says it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if priv.Required() {
		t.Fatalf("%s needs a Chromium browser and %s=1 says it must run: install it (apt-get install -y chromium)", t.Name(), priv.EnvRequire)
	}
	t.Skipf("no chromium on PATH (apt-get install -y chromium; set %s=1 to make this a failure)", priv.EnvRequire)
	return ""
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.DisableGPU)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now (without a timeout: it lives as long as the
	// context of its first run), so a broken install fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// pageState is what the test reads from the page's DOM.
type pageState struct {
	Live    string            `json:"live"`    // body[data-live]: the event stream is open
	Mark    string            `json:"mark"`    // set by the test; a reload loses it
	Updates string            `json:"updates"` // body[data-updates]: messages drawn
	Sleeper map[string]string `json:"sleeper"` // the resource's cell per node
	Nodes   map[string]string `json:"nodes"`   // each node's state cell
}

const readPage = `(function () {
  var s = {live: document.body.getAttribute("data-live") || "", mark: window.tandemTestMark || "",
    updates: document.body.getAttribute("data-updates") || "", sleeper: {}, nodes: {}};
  document.querySelectorAll('#resources tr[data-resource="sleeper"] td[data-node]').forEach(function (c) {
    s.sleeper[c.getAttribute("data-node")] = c.textContent; });
  document.querySelectorAll('#nodes tbody tr[data-node]').forEach(function (r) {
    s.nodes[r.getAttribute("data-node")] = r.cells[1].textContent; });
  return s;
})()`

// A real browser loads a node's status page and, without reloading it,
// sees the singleton move when its node stops: the page's DOM follows the
// event stream.
func TestStatusPageInBrowser(t *testing.T) {
	ctx := browser(t)
	c, url := statusPages(t)
	on := sleeperOn(t, c, "")
	other := map[string]string{"holly": "benji", "benji": "holly"}[on]
	read := func() (pageState, error) {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return chromedp.Run(rctx, chromedp.Evaluate[pageState](readPage))
	}
	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := chromedp.Do(nctx, chromedp.Navigate(url[other]+"/"))
	cancel()
	if err != nil {
		t.Fatalf("loading %s: %v", url[other], err)
	}
	// Live, and showing the singleton where it runs; then mark the
	// document, so a reload (which would lose the mark) cannot pass.
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		s, err := read()
		if err != nil {
			return err
		}
		if s.Live != "1" || s.Sleeper[on] != "Started" {
			return fmt.Errorf("page: %+v", s)
		}
		return nil
	})
	mctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = chromedp.Run(mctx, chromedp.Evaluate[bool](`window.tandemTestMark = "loaded once"; true`))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	c.Stop(on)
	var last pageState
	poll.Until(t, 90*time.Second, 250*time.Millisecond, func() error {
		s, err := read()
		if err != nil {
			return err
		}
		if s.Mark != "loaded once" {
			t.Fatalf("the page was reloaded (%+v): it must update in place", s)
		}
		if s.Sleeper[other] != "Started" || s.Sleeper[on] != "Stopped" || s.Nodes[on] != "OFFLINE" {
			return fmt.Errorf("page: %+v", s)
		}
		last = s
		return nil
	})
	t.Logf("the page on %s showed sleeper move from %s (and %s OFFLINE) in place, after %s messages over its event stream", other, on, on, last.Updates)
}
