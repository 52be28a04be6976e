package statuspage

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/host/status"
)

//go:embed static/page.html static/page.css static/page.js
var assets embed.FS

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"state":      stateOf,
	"stateClass": stateClass,
	"nodeNames":  nodeNames,
	"clock":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"evclock":    func(t time.Time) string { return t.UTC().Format("15:04:05") },
}).ParseFS(assets, "static/page.html"))

// stateOf is a resource's state on a node as the page shows it.
func stateOf(res status.Resource, node string) string {
	if s := res.Nodes[node]; s != "" {
		return s
	}
	return "Stopped"
}

// stateClass is the CSS class of a state (page.js has the same mapping).
func stateClass(s string) string {
	switch {
	case strings.HasPrefix(s, "FAILED"):
		return "failed"
	case s == "Started" || s == "Promoted" || s == "Unpromoted":
		return "started"
	case s == "Starting" || s == "Stopping":
		return "moving"
	}
	return "stopped"
}

func nodeNames(r status.Report) []string {
	out := make([]string, 0, len(r.Nodes))
	for _, n := range r.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// Handler serves the page: / (HTML), /status.json, /events (server-sent
// events, one "status" message with the view as JSON whenever it changes)
// and /static/ (the stylesheet and script). Only GET and HEAD.
func (p *Page) Handler() http.Handler {
	static, _ := fs.Sub(assets, "static")
	files := http.FileServer(http.FS(static))
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", p.serveHTML)
	mux.HandleFunc("/status.json", p.serveJSON)
	mux.HandleFunc("/events", p.serveEvents)
	mux.Handle("/static/page.css", http.StripPrefix("/static/", files))
	mux.Handle("/static/page.js", http.StripPrefix("/static/", files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Our own files only: no inline script, nothing from elsewhere,
		// never inside another site's frame.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the status page is read-only: "+r.Method+" is not allowed (GET or HEAD)", http.StatusMethodNotAllowed)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (p *Page) serveHTML(w http.ResponseWriter, r *http.Request) {
	v, _ := p.current(r.Context(), p.o.Interval)
	var b strings.Builder
	if err := pageTemplate.Execute(&b, v); err != nil {
		p.o.Log.Error("status page: rendering", "err", err)
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprint(w, b.String())
}

func (p *Page) serveJSON(w http.ResponseWriter, r *http.Request) {
	_, body := p.current(r.Context(), p.o.Interval)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}

// serveEvents streams the view: a "status" message at once, then one each
// time it changes (at most once per interval), and at least every
// keepAlive. At most MaxClients streams at once; the rest get 503.
func (p *Page) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	default:
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("too many status page streams open (%d): try again later", p.o.MaxClients), http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not buffer the stream
	if r.Method == http.MethodHead {
		return
	}
	defer p.watch()()
	_, seen := p.current(r.Context(), p.o.Interval)
	if err := writeEvent(w, seen); err != nil {
		return
	}
	flusher.Flush()
	for {
		body, ok := p.next(r.Context(), seen)
		if !ok {
			return
		}
		if err := writeEvent(w, body); err != nil {
			return
		}
		flusher.Flush()
		seen = body
	}
}

// writeEvent writes one server-sent event: the view's JSON, which has no
// line breaks (json.Marshal escapes them inside strings), on one data line.
func writeEvent(w http.ResponseWriter, body []byte) error {
	_, err := fmt.Fprintf(w, "retry: 2000\nevent: status\ndata: %s\n\n", body)
	return err
}

// Serve serves the page on addr until stop is called: stop ends the event
// streams, then shuts the server down.
func Serve(ctx context.Context, addr string, p *Page) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("[status_page] listen %q: %w", addr, err)
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.o.Log.Error("status page stopped", "addr", addr, "err", err)
		}
	}()
	p.o.Log.Info("status page served", "addr", "http://"+l.Addr().String()+"/")
	return func() {
		p.Close()
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}
