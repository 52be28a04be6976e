package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/liveconfig"
)

// logBuffer keeps what a member logs, for the test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Revisions written straight to the KV, past the validation, locked the
// cluster: restarted members looped on "live configuration not available
// yet", and rollback failed on them. A deleted configuration was silently
// re-seeded from cluster.toml, losing the live edits.
func TestStoredDataNeverBricksTheCluster(t *testing.T) {
	tc := daemontest.New(t, scenario)
	logs := map[string]*logBuffer{}
	for _, m := range daemontest.Members {
		logs[m] = &logBuffer{}
	}
	tc.Logger = func(m string) *slog.Logger {
		return slog.New(slog.NewTextHandler(logs[m], &slog.HandlerOptions{Level: slog.LevelInfo})).With("test-member", m)
	}
	tc.StartAll()
	c := tc.Connect()
	converged := func() {
		t.Helper()
		poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
			if w, s := tc.Where("worker"), tc.Where("sleeper"); len(w) != 2 || len(s) != 1 {
				return fmt.Errorf("worker on %v, sleeper on %v; want worker on both nodes and sleeper on one", w, s)
			}
			return nil
		})
	}
	converged()
	ctx := context.Background()
	store, err := liveconfig.OpenClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	good, err := store.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	applied(t, c, good.Rev)
	running := tc.Pids("")

	// An edit with an injected haproxy line, and a depth bomb, written
	// straight to the KV.
	// (Only a member can: an admin's writes go through the members.)
	kv, err := tc.ConnectMember("benji").KV(ctx, bus.BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	injected := *good.CIB
	injected.Resources = append(injected.Resources[:0:0], injected.Resources...)
	injected.Resources[0].Params = map[string]string{"command": "/bin/sleep\nExecStartPre=/bin/sh"}
	bad1, _ := json.Marshal(map[string]any{"format": liveconfig.FormatCIB, "by": "mallory", "summary": "injected", "cib": &injected})
	bad2, _ := json.Marshal(map[string]any{"format": liveconfig.FormatTOML, "by": "mallory", "toml": "x = " + strings.Repeat("{a=", 5000) + "1" + strings.Repeat("}", 5000)})
	rev := good.Rev
	for _, v := range [][]byte{bad1, bad2} {
		if rev, err = kv.Update(ctx, liveconfig.Key, v, rev); err != nil {
			t.Fatal(err)
		}
	}
	// Both nodes report it and keep running the last valid revision.
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		for _, n := range []string{"holly", "benji"} {
			if l := logs[n].String(); !strings.Contains(l, "live configuration revision is invalid") || !strings.Contains(l, fmt.Sprintf("rev=%d", rev)) {
				return fmt.Errorf("%s has not reported the invalid revision %d", n, rev)
			}
		}
		return nil
	})
	applied(t, c, good.Rev)
	if now := tc.Pids(""); !maps.Equal(now, running) {
		t.Errorf("processes after the invalid revisions: %v, want them untouched: %v", now, running)
	}

	// A member restarted now starts with the last valid revision.
	tc.Stop("holly")
	tc.Start("holly")
	converged()
	applied(t, c, good.Rev)
	hist, err := store.History(ctx)
	if err != nil || len(hist) != 3 || hist[1].Invalid == "" || !strings.Contains(hist[2].Invalid, "MaxNesting") {
		t.Fatalf("history: %+v, %v; want the two invalid revisions listed as such", hist, err)
	}

	// Rollback works whatever the current revision holds.
	rb, err := store.Rollback(ctx, good.Rev, "cli@test")
	if err != nil {
		t.Fatal(err)
	}
	applied(t, c, rb.Rev)

	// The configuration deleted: a restarted member waits for an admin,
	// saying how, instead of re-seeding its file.
	if err := kv.Delete(ctx, liveconfig.Key); err != nil {
		t.Fatal(err)
	}
	tc.Stop("benji")
	mark := len(logs["benji"].String())
	tc.Start("benji")
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if l := logs["benji"].String()[mark:]; !strings.Contains(l, "tandem config reseed --from") {
			return fmt.Errorf("benji has not refused to re-seed")
		}
		return nil
	})
	if _, err := store.Current(ctx); err == nil {
		t.Fatal("the deleted configuration was re-seeded behind the admin's back")
	}
	f, err := config.Load(tc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := store.Reseed(ctx, f.CIB, "cli@test", tc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	applied(t, c, rs.Rev)
	converged()
}
