package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"
)

// maxBody bounds what a check reads of a response body: enough for any
// status page, not enough for a runaway download to matter.
const maxBody = 1 << 20

// outcome is the result of one check: passed or not, and what happened in
// words for the admin.
type outcome struct {
	OK     bool
	Detail string
}

// run performs one check against target (placeholders already expanded)
// within c.Timeout and ctx.
func (c Check) run(ctx context.Context, target string) outcome {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	start := time.Now()
	var o outcome
	switch c.Type {
	case TypeHTTP:
		o = c.runHTTP(ctx, target)
	case TypeTCP:
		o = c.runTCP(ctx, target)
	default:
		return outcome{Detail: fmt.Sprintf("unknown check type %q", c.Type)}
	}
	if o.OK {
		o.Detail += fmt.Sprintf(" in %s", time.Since(start).Round(time.Millisecond))
	}
	return o
}

func (c Check) runTCP(ctx context.Context, addr string) outcome {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return outcome{Detail: fmt.Sprintf("TCP connect to %s: %s", addr, describe(err, c.Timeout))}
	}
	conn.Close()
	return outcome{OK: true, Detail: "TCP connect to " + addr}
}

func (c Check) runHTTP(ctx context.Context, url string) outcome {
	tr := &http.Transport{
		// Never through a proxy from the environment: the check is about
		// this server as seen from this node.
		Proxy:             nil,
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{}).DialContext,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: c.TLSSkipVerify}, //nolint:gosec // opt-in for self-signed certificates
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// A redirect is an answer like any other: expect_status can ask for it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return outcome{Detail: fmt.Sprintf("GET %s: %v", url, err)}
	}
	req.Header.Set("User-Agent", "tandem-health/"+Version)
	resp, err := client.Do(req)
	if err != nil {
		return outcome{Detail: fmt.Sprintf("GET %s: %s", url, describe(err, c.Timeout))}
	}
	defer resp.Body.Close()
	var body []byte
	if c.ExpectBody != "" {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return outcome{Detail: fmt.Sprintf("GET %s: HTTP %d, reading the body: %s", url, resp.StatusCode, describe(err, c.Timeout))}
		}
	}
	if !slices.Contains(c.ExpectStatus, resp.StatusCode) {
		return outcome{Detail: fmt.Sprintf("GET %s: HTTP %d, want %s", url, resp.StatusCode, statuses(c.ExpectStatus))}
	}
	if c.ExpectBody != "" && !bytes.Contains(body, []byte(c.ExpectBody)) {
		return outcome{Detail: fmt.Sprintf("GET %s: HTTP %d but the body does not contain %q (it starts %q)", url, resp.StatusCode, c.ExpectBody, excerpt(body))}
	}
	return outcome{OK: true, Detail: fmt.Sprintf("GET %s: HTTP %d", url, resp.StatusCode)}
}

// describe turns a dial or request error into what an admin would say.
func describe(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (nothing listens there)"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return err.Error()
}

func statuses(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, " or ")
}

func excerpt(b []byte) string {
	const n = 64
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
