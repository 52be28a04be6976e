package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/host/status"
)

// fakeCluster is what Gather reports in these handler tests (the real
// gathering over the bus is tested in host/daemon).
type fakeCluster struct {
	mu sync.Mutex
	r  status.Report
}

func (f *fakeCluster) set(fn func(r *status.Report)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.r)
}

func (f *fakeCluster) gather(context.Context) status.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(f.r) // a copy: the page keeps what it got
	var r status.Report
	_ = json.Unmarshal(b, &r)
	r.LastUpdated = time.Now()
	return r
}

func newFake() *fakeCluster {
	return &fakeCluster{r: status.Report{Cluster: "web", Quorum: true, Voters: 3, VotersUp: 3,
		Nodes:        []status.Member{{Name: "holly", Online: true}, {Name: "benji", Online: true}},
		ResourceList: []status.Resource{{ID: "VIP", Agent: "vip", Nodes: map[string]string{"holly": "Started"}}}}}
}

func startPage(t *testing.T, f *fakeCluster, o Options) (*Page, *httptest.Server) {
	t.Helper()
	o.Member, o.Gather = "holly", f.gather
	if o.Interval == 0 {
		o.Interval = 20 * time.Millisecond
	}
	p := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(func() { p.Close(); srv.Close(); cancel(); <-done })
	return p, srv
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// Only GET and HEAD: every other method is refused with 405 and Allow, on
// every path, before anything is gathered.
func TestOnlyGetAndHead(t *testing.T) {
	_, srv := startPage(t, newFake(), Options{})
	for _, path := range []string{"/", "/status.json", "/events", "/static/page.js", "/static/page.css"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "TRACE"} {
			req, _ := http.NewRequest(m, srv.URL+path, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q; want 405 and GET, HEAD", m, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
		if path == "/events" {
			continue // a stream; its HEAD is checked below
		}
		resp, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Head(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD /events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if code, _, _ := get(t, srv.URL+"/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404", code)
	}
	code, h, body := get(t, srv.URL+"/")
	if code != http.StatusOK || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("GET /: %d, CSP %q", code, h.Get("Content-Security-Policy"))
	}
	// No forms, no buttons: nothing on the page can ask for a change.
	for _, w := range []string{"<form", "<button", "<input", "method=", "http://", "https://"} {
		if strings.Contains(body, w) {
			t.Errorf("the page holds %q", w)
		}
	}
}

// What the bus says is text on the page, never markup: a resource, node or
// failure message with HTML in it is escaped.
func TestPageEscapesWhatTheBusSays(t *testing.T) {
	f := newFake()
	evil := `<script>alert("x")</script>`
	f.set(func(r *status.Report) {
		r.Nodes = append(r.Nodes, status.Member{Name: `n"><img src=x onerror=alert(1)>`, Online: true})
		r.ResourceList = append(r.ResourceList, status.Resource{ID: evil, Agent: "systemd", Nodes: map[string]string{"holly": "FAILED"},
			Warnings: map[string]string{"holly": evil}})
		r.Failures = []status.Failure{{Resource: evil, Node: "holly", Op: "monitor", Count: 1, Message: evil}}
	})
	p, srv := startPage(t, f, Options{})
	env, err := bus.Encode(bus.ConfigChanged{Revision: 7, By: "admin@x", Summary: evil}, "benji", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.Event(env)
	_, _, body := get(t, srv.URL+"/")
	for _, raw := range []string{"<script>alert", "<img src=x", `"><img`} {
		if strings.Contains(body, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	for _, want := range []string{`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, `data-resource="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"`,
		`revision 7 by admin@x: &lt;script&gt;`, `<td data-node="holly" class="failed">FAILED`, `<tr data-resource="VIP">`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The JSON carries it as data, for page.js to put in with textContent.
	_, h, js := get(t, srv.URL+"/status.json")
	var v View
	if err := json.Unmarshal([]byte(js), &v); err != nil || h.Get("Content-Type") != "application/json" {
		t.Fatalf("status.json: %v %q", err, h.Get("Content-Type"))
	}
	if v.Status.ResourceList[1].ID != evil || len(v.Events) != 1 || !strings.Contains(v.Events[0].Text, evil) || v.Member != "holly" {
		t.Errorf("status.json: %+v", v)
	}
	_, _, script := get(t, srv.URL+"/static/page.js")
	if strings.Contains(script, "innerHTML") || strings.Contains(script, "insertAdjacentHTML") {
		t.Error("page.js writes markup")
	}
}

// sseReader reads one server-sent event stream.
type sseReader struct {
	r    *bufio.Reader
	body io.Closer
}

func openStream(t *testing.T, url string) (*sseReader, *http.Response) {
	t.Helper()
	resp, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sseReader{r: bufio.NewReader(resp.Body), body: resp.Body}, resp
}

// next reads one event: its field lines, up to the blank line that ends it.
func (s *sseReader) next() ([]string, error) {
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return lines, nil
		}
		lines = append(lines, line)
	}
}

// decode checks an event's framing (retry, event: status, one data line)
// and returns its view.
func decode(t *testing.T, lines []string) View {
	t.Helper()
	if len(lines) != 3 || lines[0] != "retry: 2000" || lines[1] != "event: status" || !strings.HasPrefix(lines[2], "data: {") {
		t.Fatalf("event framing: %q", lines)
	}
	var v View
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[2], "data: ")), &v); err != nil {
		t.Fatalf("event data: %v", err)
	}
	return v
}

// The stream sends the view at once, then again when it changes; a value
// with line breaks stays on the one data line.
func TestEventStream(t *testing.T) {
	f := newFake()
	f.set(func(r *status.Report) { r.Unreachable = "line one\nline two\r\n\ndata: forged" })
	_, srv := startPage(t, f, Options{})
	s, resp := openStream(t, srv.URL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	lines, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	v := decode(t, lines)
	if v.Status.ResourceList[0].Nodes["holly"] != "Started" || v.Status.Unreachable != "line one\nline two\r\n\ndata: forged" {
		t.Fatalf("first view: %+v", v.Status)
	}
	// The VIP moves to benji: the next event says so.
	f.set(func(r *status.Report) { r.ResourceList[0].Nodes = map[string]string{"benji": "Started"} })
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		v := decode(t, lines)
		if v.Status.ResourceList[0].Nodes["benji"] == "Started" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream never showed the VIP on benji")
		}
	}
}

// At most MaxClients streams; Close ends the open ones.
func TestStreamsAreBounded(t *testing.T) {
	p, srv := startPage(t, newFake(), Options{MaxClients: 2})
	var streams []*sseReader
	for i := 0; i < 2; i++ {
		s, resp := openStream(t, srv.URL)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
		if _, err := s.next(); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "too many status page streams open (2)") {
		t.Fatalf("third stream: %d %q", resp.StatusCode, b)
	}
	// The page itself is still served.
	if code, _, _ := get(t, srv.URL+"/"); code != http.StatusOK {
		t.Errorf("GET / with the streams full: %d", code)
	}
	p.Close()
	for i, s := range streams {
		var err error
		for err == nil {
			_, err = s.next()
		}
		if err != io.EOF {
			t.Errorf("stream %d ended with %v, want EOF", i, err)
		}
	}
	// A freed slot takes a new stream (and a closed page ends it at once).
	resp, err = http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a stream after the others ended: %d", resp.StatusCode)
	}
}

// Serve listens, and stop ends the open streams and the server.
func TestServeStops(t *testing.T) {
	f := newFake()
	p := New(Options{Member: "holly", Gather: f.gather})
	addr := fmt.Sprintf("127.0.0.1:%d", bustest.FreePorts(t, 1)[0])
	stop, err := Serve(context.Background(), addr, p)
	if err != nil {
		t.Fatal(err)
	}
	s, resp := openStream(t, "http://"+addr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	if _, err := s.next(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	for err == nil {
		_, err = s.next()
	}
	if err != io.EOF {
		t.Errorf("the stream ended with %v, want EOF", err)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return")
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("the page is still served after stop")
	}
	if _, err := Serve(context.Background(), "127.0.0.1:99999", New(Options{Gather: f.gather})); err == nil ||
		!strings.Contains(err.Error(), `[status_page] listen "127.0.0.1:99999"`) {
		t.Errorf("bad address: %v", err)
	}
}
