package alerts_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/alerts"
	"github.com/tandem-ha/tandem/policies/cib"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkScriptAlert is one event through a shell agent that exits at
// once: queueing, the environment, fork and exec, the wait.
func BenchmarkScriptAlert(b *testing.B) {
	agent := b.TempDir() + "/agent.sh"
	writeScript(b, agent, "#!/bin/sh\nexit 0\n")
	m := alerts.New(alerts.Config{Node: "holly", Workers: 1, Queue: 1, Alerts: func() []cib.Alert { return []cib.Alert{{ID: "a", Path: agent}} }})
	defer m.Close(context.Background())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Send(alerts.NodeEvent("benji", 2, true))
		for m.Ran() < uint64(i+1) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	if m.Failed() != 0 || m.Dropped() != 0 {
		b.Fatalf("failed %d, dropped %d", m.Failed(), m.Dropped())
	}
}

// BenchmarkSend is what the resource manager pays per event with an alert
// configured: Send only queues (the one worker sleeps in its first call).
func BenchmarkSend(b *testing.B) {
	agent := b.TempDir() + "/agent.sh"
	writeScript(b, agent, "#!/bin/sh\nexec sleep 3600\n")
	m := alerts.New(alerts.Config{Node: "holly", Workers: 1, Queue: 1 << 20, Logger: quiet,
		Alerts: func() []cib.Alert { return []cib.Alert{{ID: "a", Path: agent}} }})
	ev := alerts.NodeEvent("benji", 2, true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Send(ev)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	m.Close(ctx)
}
