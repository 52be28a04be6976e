package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Payload is a webhook's JSON body: the event with the names of the
// CRM_alert_* variables, without the prefix (docs/alerts.md).
type Payload struct {
	Alert          string            `json:"alert"`
	Kind           string            `json:"kind"`
	Version        string            `json:"version"`
	Recipient      string            `json:"recipient,omitempty"`
	NodeSequence   uint64            `json:"node_sequence"`
	Timestamp      string            `json:"timestamp"`
	TimestampEpoch int64             `json:"timestamp_epoch"`
	TimestampUsec  int               `json:"timestamp_usec"`
	Node           string            `json:"node"`
	NodeID         *int              `json:"nodeid,omitempty"`
	Desc           string            `json:"desc"`
	Rsc            string            `json:"rsc,omitempty"`
	Task           string            `json:"task,omitempty"`
	Interval       *int64            `json:"interval,omitempty"` // milliseconds
	TargetRC       *int              `json:"target_rc,omitempty"`
	Status         *int              `json:"status,omitempty"`
	RC             *int              `json:"rc,omitempty"`
	ExecTime       *int64            `json:"exec_time,omitempty"` // milliseconds
	Options        map[string]string `json:"options,omitempty"`
}

func (m *Manager) payload(d delivery) Payload {
	env := m.env(d)
	p := Payload{Alert: d.alert.ID, Kind: d.ev.Kind, Version: m.cfg.Version, Recipient: d.recipient, NodeSequence: d.seq,
		Timestamp: env["CRM_alert_timestamp"], TimestampEpoch: d.ev.Time.Unix(), TimestampUsec: d.ev.Time.Nanosecond() / 1000,
		Node: d.ev.Node, Desc: d.ev.Desc, Options: d.alert.Options}
	switch d.ev.Kind {
	case KindNode:
		p.NodeID = &d.ev.NodeID
	case KindResource:
		iv, et := d.ev.Interval.Milliseconds(), d.ev.ExecTime.Milliseconds()
		p.Rsc, p.Task, p.Interval, p.ExecTime = d.ev.Resource, d.ev.Task, &iv, &et
		p.TargetRC, p.Status, p.RC = &d.ev.TargetRC, &d.ev.Status, &d.ev.RC
	}
	return p
}

// post sends d's event to its webhook, retrying a failed try (no answer,
// 5xx, 429) with a doubling backoff, within ctx (the alert's timeout) and
// at most Tries times. A 4xx other than 429 is not retried: the receiver
// refused the event itself.
func (m *Manager) post(ctx context.Context, d delivery) error {
	body, err := json.Marshal(m.payload(d))
	if err != nil {
		return err
	}
	wait := m.cfg.Backoff
	var last error
	for try := 1; try <= m.cfg.Tries; try++ {
		retry, err := m.postOnce(ctx, d.alert.Webhook, body, d.seq)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("try %d of %d: %w", try, m.cfg.Tries, err)
		if !retry || try == m.cfg.Tries {
			break
		}
		m.log.Debug("webhook failed, retrying", "alert", d.alert.ID, "err", last, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w; gave up at the alert's timeout (%s)", last, d.meta.Timeout)
		case <-t.C:
		}
		wait *= 2
	}
	return last
}

func (m *Manager) postOnce(ctx context.Context, url string, body []byte, seq uint64) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tandem-alert/"+m.cfg.Version)
	// The same delivery keeps its key across retries: a receiver can drop
	// a duplicate (a try whose answer was lost).
	req.Header.Set("Idempotency-Key", m.cfg.Node+"-"+m.nonce+"-"+strconv.FormatUint(seq, 10))
	resp, err := m.cfg.Client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("%s answered %s: %s", url, resp.Status, bytes.TrimSpace(text))
	}
	return false, fmt.Errorf("%s refused the event: %s: %s", url, resp.Status, bytes.TrimSpace(text))
}
