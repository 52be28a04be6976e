package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

var ctx = context.Background()

// The cluster view of the tests: node "holly" is at loopback, so that
// {node_address} reaches the test servers.
var view = &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly", Address: "127.0.0.1", Online: true}}}

func request(typ string, params map[string]string) sdk.Request {
	return sdk.Request{ResourceID: "check", AgentType: typ, Params: params, Instance: sdk.Instance{Node: "holly", CloneIndex: 0}, Cluster: view}
}

func want(t *testing.T, what string, got sdk.Result, code sdk.Code, contains ...string) {
	t.Helper()
	if got.Code != code {
		t.Fatalf("%s: %v %q, want %v", what, got.Code, got.Message, code)
	}
	for _, c := range contains {
		if !strings.Contains(got.Message, c) {
			t.Fatalf("%s: %q does not say %q", what, got.Message, c)
		}
	}
}

// nodeURL rewrites a test server's URL to go through {node_address}.
func nodeURL(t *testing.T, raw, path string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://{node_address}:" + u.Port() + path
}

// started returns an agent with a started check for params.
func started(t *testing.T, typ string, params map[string]string) (*Agent, sdk.Request) {
	t.Helper()
	a := NewWith(Options{StateDir: t.TempDir()})
	r := request(typ, params)
	want(t, "validate", a.Validate(ctx, sdk.ValidateRequest{AgentType: typ, Params: params}), sdk.OK)
	want(t, "start", a.Start(ctx, r), sdk.OK)
	return a, r
}

func hello(body string, status int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
}

func TestHTTPSuccess(t *testing.T) {
	srv := hello("<h1>Hello Holly</h1>", 200)
	defer srv.Close()
	a, r := started(t, TypeHTTP, map[string]string{"url": nodeURL(t, srv.URL, "/"), "expect_body": "Hello"})
	want(t, "monitor", a.Monitor(ctx, r), sdk.OK, "up: GET http://127.0.0.1:", "HTTP 200 in")
}

func TestHTTPWrongStatus(t *testing.T) {
	srv := hello("Service Unavailable", 503)
	defer srv.Close()
	a, r := started(t, TypeHTTP, map[string]string{"url": srv.URL + "/"})
	want(t, "monitor", a.Monitor(ctx, r), sdk.ErrGeneric, "down:", "HTTP 503, want 200")
}

func TestHTTPWrongBody(t *testing.T) {
	srv := hello("It works!", 200)
	defer srv.Close()
	a, r := started(t, TypeHTTP, map[string]string{"url": srv.URL + "/", "expect_body": "Hello"})
	want(t, "monitor", a.Monitor(ctx, r), sdk.ErrGeneric, `body does not contain "Hello"`, `starts "It works!"`)
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	a, r := started(t, TypeHTTP, map[string]string{"url": srv.URL + "/", "timeout": "200ms"})
	start := time.Now()
	want(t, "monitor", a.Monitor(ctx, r), sdk.ErrGeneric, "no answer within 200ms")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 200ms check took %s", d)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	addr := freeAddr(t)
	a, r := started(t, TypeHTTP, map[string]string{"url": "http://" + addr + "/"})
	want(t, "monitor", a.Monitor(ctx, r), sdk.ErrGeneric, "connection refused")
}

func TestHTTPSSelfSigned(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "Hello") }))
	defer srv.Close()
	a, r := started(t, TypeHTTP, map[string]string{"url": srv.URL + "/"})
	want(t, "verified", a.Monitor(ctx, r), sdk.ErrGeneric, "certificate")
	a, r = started(t, TypeHTTP, map[string]string{"url": srv.URL + "/", "tls_skip_verify": "true", "expect_body": "Hello"})
	want(t, "skip verify", a.Monitor(ctx, r), sdk.OK, "HTTP 200")
}

// Redirects are answers, not followed.
func TestHTTPRedirectNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer srv.Close()
	a, r := started(t, TypeHTTP, map[string]string{"url": srv.URL + "/", "expect_status": "301,302"})
	want(t, "monitor", a.Monitor(ctx, r), sdk.OK, "HTTP 302")
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	a, r := started(t, TypeTCP, map[string]string{"address": "{node_address}:" + port})
	want(t, "open port", a.Monitor(ctx, r), sdk.OK, "up: TCP connect to 127.0.0.1:"+port)

	a, r = started(t, TypeTCP, map[string]string{"address": freeAddr(t)})
	want(t, "closed port", a.Monitor(ctx, r), sdk.ErrGeneric, "connection refused")
}

// A listener whose accept queue is full drops further SYNs: the connect
// hangs until the check's timeout.
func TestTCPTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue (never accepted); bounded: a few connections at most.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
		if i == 8 {
			t.Fatal("the accept queue never filled")
		}
	}
	a, r := started(t, TypeTCP, map[string]string{"address": addr, "timeout": "300ms"})
	want(t, "monitor", a.Monitor(ctx, r), sdk.ErrGeneric, "no answer within 300ms")
}

// A flapping server: the verdict follows rise (2) and fall (3), not each
// check.
func TestFlappingRiseFall(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			fmt.Fprint(w, "Hello")
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	a, r := started(t, TypeHTTP, map[string]string{"url": srv.URL + "/", "rise": "2", "fall": "3"})
	steps := []struct {
		healthy bool
		code    sdk.Code
		msg     string
	}{
		{true, sdk.OK, "up: "},
		{false, sdk.OK, "up, failing 1 of 3"},
		{false, sdk.OK, "up, failing 2 of 3"},
		{true, sdk.OK, "up: "},
		{false, sdk.OK, "failing 1 of 3"},
		{false, sdk.OK, "failing 2 of 3"},
		{false, sdk.ErrGeneric, "down: GET"},
		{true, sdk.ErrGeneric, "down, passing 1 of 2"},
		{false, sdk.ErrGeneric, "down: "},
		{true, sdk.ErrGeneric, "passing 1 of 2"},
		{true, sdk.OK, "up: "},
	}
	for i, s := range steps {
		healthy.Store(s.healthy)
		want(t, fmt.Sprintf("step %d (healthy=%v)", i, s.healthy), a.Monitor(ctx, r), s.code, s.msg)
	}
}

// The started state and the counts live on disk: a restarted plugin (a
// new Agent on the same directory) carries on where the old one stopped.
func TestStateSurvivesPluginRestart(t *testing.T) {
	srv := hello("oops", 500)
	defer srv.Close()
	dir := t.TempDir()
	params := map[string]string{"url": srv.URL + "/", "fall": "2"}
	r := request(TypeHTTP, params)
	a := NewWith(Options{StateDir: dir})
	want(t, "not started", a.Monitor(ctx, r), sdk.NotRunning)
	want(t, "start", a.Start(ctx, r), sdk.OK)
	want(t, "start again", a.Start(ctx, r), sdk.OK, "already started")
	want(t, "first check fails", a.Monitor(ctx, r), sdk.ErrGeneric, "down")

	b := NewWith(Options{StateDir: dir})
	want(t, "after restart", b.Monitor(ctx, r), sdk.ErrGeneric, "down")
	other := r
	other.Instance.CloneIndex = 1
	want(t, "another clone instance is separate", b.Monitor(ctx, other), sdk.NotRunning)
	want(t, "stop", b.Stop(ctx, r), sdk.OK)
	want(t, "stop again", b.Stop(ctx, r), sdk.OK)
	want(t, "after stop", a.Monitor(ctx, r), sdk.NotRunning)
}

func TestValidateMessages(t *testing.T) {
	a := NewWith(Options{StateDir: t.TempDir()})
	want(t, "bad url", a.Validate(ctx, sdk.ValidateRequest{AgentType: TypeHTTP, Params: map[string]string{"url": "gopher://x"}}),
		sdk.ErrNotConfigured, `url "gopher://x"`)
	want(t, "wrong type", a.Validate(ctx, sdk.ValidateRequest{AgentType: "ping", Params: nil}), sdk.ErrNotConfigured, "health:http")
	r := request(TypeHTTP, map[string]string{"url": "http://{node_address}/"})
	r.Instance.Node = "director"
	want(t, "node without address", a.Start(ctx, r), sdk.ErrGeneric, `node "director" has no address`)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// stoppable is a test server that a conformance Break stops (connections
// to its port are refused: the service the check watches is down) and
// Repair starts again on the same address, for the checks that follow.
type stoppable struct {
	addr    string
	handler http.Handler
	mu      sync.Mutex
	srv     *httptest.Server
}

func newStoppable(t *testing.T, body string) *stoppable {
	srv := hello(body, 200)
	s := &stoppable{addr: srv.Listener.Addr().String(), handler: srv.Config.Handler, srv: srv}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

func (s *stoppable) URL() string { return "http://" + s.addr }

func (s *stoppable) stop(sdk.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv.Close()
	return nil
}

func (s *stoppable) start(sdk.Request) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("restarting the test server on %s: %w", s.addr, err)
	}
	srv := httptest.NewUnstartedServer(s.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	return nil
}

// conformanceResource is an HTTP check of srv, which its Break stops.
func conformanceResource(t *testing.T, srv *stoppable) sdktest.Resource {
	return sdktest.Resource{
		ID: "web-check", AgentType: TypeHTTP,
		Params:   map[string]string{"url": nodeURL(t, srv.URL(), "/"), "expect_body": "Hello"},
		Instance: sdk.Instance{Node: "holly", CloneIndex: 0},
		Cluster:  view,
		Break:    srv.stop,
		Repair:   srv.start,
	}
}

func TestConformanceInProcess(t *testing.T) {
	srv := newStoppable(t, "Hello Holly")
	sdktest.Conformance(t, sdktest.Serve(t, NewWith(Options{StateDir: t.TempDir()})), conformanceResource(t, srv))
}

// The plugin binary, restarted by Conformance; the HTTP check and a TCP
// check of the same server, each found failed once the server stops.
func TestConformancePluginBinary(t *testing.T) {
	srv := newStoppable(t, "Hello Holly")
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/health/cmd/tandem-plugin-health")
	p := sdktest.LaunchBinary(t, bin, "TANDEM_HEALTH_STATE_DIR="+t.TempDir())
	res := conformanceResource(t, srv)
	sdktest.Conformance(t, p, res)
	tcp := res
	tcp.AgentType = TypeTCP
	tcp.ID = "tcp-check"
	u, _ := url.Parse(srv.URL())
	tcp.Params = map[string]string{"address": "{node_address}:" + u.Port()}
	sdktest.Conformance(t, p, tcp)
}
