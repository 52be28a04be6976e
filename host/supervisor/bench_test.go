package supervisor_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// Benchmarks use the SDK's example plugin, a realistic small plugin binary.
// Run: go test -run '^$' -bench . -benchtime 10000x ./host/supervisor
func examplePlugin(b *testing.B) string {
	return sdktest.Build(b, "github.com/tandem-ha/tandem/plugins/sdk/example/cmd/tandem-plugin-example")
}

var quiet = slog.New(slog.NewTextHandler(devNull{}, &slog.HandlerOptions{Level: slog.LevelError}))

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkMonitorRoundTrip: one monitor through the supervisor, gRPC and
// the plugin process (which reads a pid file and /proc), sequentially;
// reports p50 and p99.
func BenchmarkMonitorRoundTrip(b *testing.B) {
	bin := examplePlugin(b)
	s, err := supervisor.New(supervisor.Config{Dir: filepath.Dir(bin), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	params := map[string]string{"command": "/bin/sleep", "args": "600", "state_dir": b.TempDir()}
	req := sdk.Request{ResourceID: "bench", Params: params, Instance: sdk.Instance{CloneIndex: -1}}
	ctx := context.Background()
	if out := s.Run(ctx, "example:process", bus.OpStart, req, 10*time.Second); out.Code != sdk.OK {
		b.Fatal(out)
	}
	defer s.Run(ctx, "example:process", bus.OpStop, req, 10*time.Second)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		out := s.Run(ctx, "example:process", bus.OpMonitor, req, 10*time.Second)
		lat = append(lat, time.Since(t0))
		if out.Code != sdk.OK {
			b.Fatal(out)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkPluginLaunch: exec to negotiated API version (handshake,
// AutoMTLS certificates, Info), and the idle plugin's resident memory.
func BenchmarkPluginLaunch(b *testing.B) {
	bin := examplePlugin(b)
	var ready time.Duration
	var rss int
	for range b.N {
		p, err := sdk.Launch(context.Background(), sdk.LaunchConfig{Path: bin, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		ready += p.Ready
		b.StopTimer()
		time.Sleep(200 * time.Millisecond) // let it settle to idle
		rss += vmRSS(b, p.Pid)
		p.Kill()
		b.StartTimer()
	}
	b.ReportMetric(float64(ready.Microseconds())/float64(b.N)/1000, "ready-ms")
	b.ReportMetric(float64(rss)/float64(b.N)/1024, "idle-rss-MiB")
}

func vmRSS(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			return kb
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
