package status

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestRenderStates(t *testing.T) {
	cfg, err := config.Load("../../cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
	up := func(name string, witness bool) bus.MemberStatus {
		d := []bus.DaemonStatus{{Name: "host", State: "active"}, {Name: "bus", State: "active (2 peers, quorum)"}}
		if witness {
			d = d[1:]
		}
		return bus.MemberStatus{Name: name, Witness: witness, Build: "test", Started: now.Add(-time.Hour), Daemons: d}
	}
	for _, tc := range []struct {
		file    string
		answers []bus.MemberStatus
		quorum  bool
	}{
		{"all-up.txt", []bus.MemberStatus{up("holly", false), up("benji", false), up("director", true)}, true},
		{"benji-down.txt", []bus.MemberStatus{up("holly", false), up("director", true)}, true},
		{"alone.txt", []bus.MemberStatus{up("holly", false)}, false},
	} {
		r := Build(cfg, tc.answers, now)
		if r.Quorum != tc.quorum {
			t.Errorf("%s: quorum %v, want %v", tc.file, r.Quorum, tc.quorum)
		}
		var buf bytes.Buffer
		WriteText(&buf, r)
		golden(t, tc.file, buf.Bytes())
	}
}
