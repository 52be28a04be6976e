package daemon_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

// notifySocket is a fake systemd notification socket: the datagrams a
// member sends, one message each.
type notifySocket struct {
	t    *testing.T
	path string
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T, dir string) *notifySocket {
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifySocket{t: t, path: path, conn: conn}
}

// next returns the next message, failing the test if none comes within
// the deadline.
func (s *notifySocket) next(within time.Duration) string {
	s.t.Helper()
	msg, err := s.read(within)
	if err != nil {
		s.t.Fatalf("no systemd notification within %s: %v", within, err)
	}
	return msg
}

func (s *notifySocket) read(within time.Duration) (string, error) {
	buf := make([]byte, 4096)
	_ = s.conn.SetReadDeadline(time.Now().Add(within))
	n, err := s.conn.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// mark sends a datagram of the test's own to the socket: it queues behind
// everything the member sent before.
func (s *notifySocket) mark(text string) {
	s.t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(text)); err != nil {
		s.t.Fatal(err)
	}
}

func lines(msg string) []string { return strings.Split(msg, "\n") }

func has(msg, line string) bool {
	for _, l := range lines(msg) {
		if l == line {
			return true
		}
	}
	return false
}

// A member run by systemd as Type=notify with WatchdogSec=: READY=1 comes
// first, once its bus server runs (and, on a node, its plugins are up);
// WATCHDOG=1 then comes from the main loop every half watchdog timeout;
// while the main loop hangs (blocked in a heartbeat) no WATCHDOG=1 comes,
// and once it runs again they do; STOPPING=1 when it is stopped.
func TestSystemdNotifyReadyAndWatchdog(t *testing.T) {
	dir := t.TempDir()
	conf := daemontest.WriteShapeFiles(t, dir, daemontest.Shape{Nodes: []string{"holly"}}, "")
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := newNotifySocket(t, dir)
	var busUp atomic.Bool
	var stuck atomic.Bool
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unhang := func() { releaseOnce.Do(func() { close(release) }) }
	const wd = 200 * time.Millisecond
	o := daemon.Options{ConfigPath: conf, Node: "holly", PluginDir: plugins, Logger: bustest.Logger(),
		Notify: sock.path, Watchdog: wd, Bus: func(*bus.Server) { busUp.Store(true) }}
	daemon.SetHeartbeatHook(&o, func() {
		if stuck.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, o) }()
	defer func() {
		unhang() // a failure while the loop hangs must not hang the test
		cancel()
		<-done
	}()

	first := sock.next(30 * time.Second)
	if !has(first, "READY=1") {
		t.Fatalf("first notification %q: want READY=1 before anything else", first)
	}
	if !busUp.Load() {
		t.Fatal("READY=1 came before the member's bus server ran")
	}
	pets := 0
	for pets < 3 {
		msg := sock.next(10 * wd)
		if has(msg, "READY=1") {
			t.Fatalf("READY=1 sent twice: %q", msg)
		}
		if has(msg, "WATCHDOG=1") {
			pets++
		}
	}

	// Hang the main loop in a heartbeat.
	stuck.Store(true)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the main loop did not reach the heartbeat hook within 10 s")
	}
	// Every WATCHDOG=1 the loop sent before it hung is queued before this.
	sock.mark("TEST=hung")
	for {
		if msg := sock.next(10 * time.Second); msg == "TEST=hung" {
			break
		}
	}
	// Three watchdog timeouts (six pets' worth) with the loop hung: the
	// next datagram must be the test's own.
	time.Sleep(3 * wd)
	sock.mark("TEST=still-hung")
	if msg := sock.next(10 * time.Second); msg != "TEST=still-hung" {
		t.Fatalf("notification %q while the main loop hung: want none", msg)
	}

	// The loop runs again: the pets resume.
	stuck.Store(false)
	unhang()
	for {
		msg := sock.next(10 * wd)
		if has(msg, "WATCHDOG=1") {
			break
		}
	}

	cancel()
	for {
		msg := sock.next(30 * time.Second)
		if has(msg, "STOPPING=1") {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the deferred wait
}

// A node whose plugin dir cannot be read fails to start and never says
// READY=1: systemd sees the start fail instead of a member without plugins.
func TestSystemdNotifyNoReadyWithoutPlugins(t *testing.T) {
	dir := t.TempDir()
	conf := daemontest.WriteShapeFiles(t, dir, daemontest.Shape{Nodes: []string{"holly"}}, "")
	sock := newNotifySocket(t, dir)
	missing := filepath.Join(dir, "no-such-plugin-dir")
	err := daemon.Run(context.Background(), daemon.Options{ConfigPath: conf, Node: "holly", PluginDir: missing, Logger: bustest.Logger(),
		Notify: sock.path, Watchdog: time.Second})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Run with a missing plugin dir: %v; want an error naming %s", err, missing)
	}
	// Run has returned: whatever it sent is queued by now.
	if msg, err := sock.read(time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("notification %q (err %v) from a member that failed to start: want none", msg, err)
	}
}
