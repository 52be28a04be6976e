package scenario

import (
	"testing"
	"time"
)

func TestTwoVIPs(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	both := []string{"benji", "holly"}
	s := &Safety{interval: SafetyInterval,
		samples: []Sample{{at(0), []string{"holly"}}, {at(1000), both}, {at(1300), []string{"benji"}}, {at(5000), both}},
		split:   []Sample{{at(1000), both}, {at(1020), both}, {at(1280), both}, {at(5000), both}, {at(5040), both}},
	}
	for _, c := range []struct {
		from, to int
		want     time.Duration
	}{
		{0, 10000, 300*time.Millisecond + 60*time.Millisecond}, // 1.0-1.3 s, then 5.0 s to its last sample + 20 ms
		{0, 1100, 100 * time.Millisecond},
		{1200, 4000, 100 * time.Millisecond},
		{1300, 5000, 0},
	} {
		if got := s.TwoVIPs(at(c.from), at(c.to)); got != c.want {
			t.Errorf("TwoVIPs(%d ms, %d ms) = %s, want %s", c.from, c.to, got, c.want)
		}
	}
}
