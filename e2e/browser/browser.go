// Package browser drives a headless Chromium (chromedp) for the tests that
// watch a member's status page in a real browser: in-process clusters
// (host/daemon) and the nspawn lab (e2e/cluster). Without a Chromium the
// tests skip, unless TANDEM_REQUIRE_PRIV=1 says they must run.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tandem-ha/tandem/e2e/priv"
)

// Chromium is the browser's path; without one it skips t, or fails it
// when TANDEM_REQUIRE_PRIV=1, saying what to install.
func Chromium(t testing.TB) string {
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

// Start starts a headless Chromium for t, stopped with the test.
func Start(t testing.TB) context.Context {
	t.Helper()
	path := Chromium(t)
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

// Open loads url in the browser's tab.
func Open(ctx context.Context, url string) error {
	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("loading %s: %w", url, err)
	}
	return nil
}

// Page is what a test reads from a status page's DOM.
type Page struct {
	Live     string            `json:"live"`     // body[data-live]: the event stream is open
	Mark     string            `json:"mark"`     // set by Mark; a reload loses it
	Updates  string            `json:"updates"`  // body[data-updates]: messages drawn
	Resource map[string]string `json:"resource"` // the resource's cell per node
	Nodes    map[string]string `json:"nodes"`    // each node's state cell
}

// loaded is the value Mark leaves in the document.
const loaded = "loaded once"

// Reloaded says whether the page was loaded again since Mark.
func (p Page) Reloaded() bool { return p.Mark != loaded }

// Read reads the status page shown in the browser, with resource's row.
func Read(ctx context.Context, resource string) (Page, error) {
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(rctx, chromedp.Evaluate[Page](fmt.Sprintf(`(function (id) {
  var s = {live: document.body.getAttribute("data-live") || "", mark: window.tandemTestMark || "",
    updates: document.body.getAttribute("data-updates") || "", resource: {}, nodes: {}};
  document.querySelectorAll("#resources tbody tr").forEach(function (r) {
    if (r.getAttribute("data-resource") !== id) return;
    r.querySelectorAll("td[data-node]").forEach(function (c) { s.resource[c.getAttribute("data-node")] = c.textContent; });
  });
  document.querySelectorAll("#nodes tbody tr[data-node]").forEach(function (r) {
    s.nodes[r.getAttribute("data-node")] = r.cells[1].textContent; });
  return s;
})(%q)`, resource)))
}

// Mark marks the document, so a test can tell an update in place from a
// reload (which loses the mark).
func Mark(ctx context.Context) error {
	mctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(mctx, chromedp.Evaluate[bool](`window.tandemTestMark = "`+loaded+`"; true`))
	return err
}
