package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The constraint listing in pcs's layout, golden-tested: the reference
// cluster (the seed's three constraints), and one with locations, options
// and ids (--full).
func TestConstraintListGolden(t *testing.T) {
	refFile, err := config.Load("../../cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	moreFile, err := config.Load("../../cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	ref, more := refFile.CIB, moreFile.CIB
	for _, args := range [][]string{
		{"VIP-10.10.10.23", "prefers", "benji=50", "holly"},
		{"haproxy-clone", "avoids", "holly=20"},
		{"VIP-10.10.10.23", "avoids", "holly"}, // replaces "prefers holly"
	} {
		ls, err := parseLocation(more, moreFile.Topology, args)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if err := more.SetLocation(l); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, args := range [][]string{
		{"stop", "haproxy-clone", "then", "stop", "httpd-clone", "kind=Optional", "symmetrical=false"},
		{"VIP-10.10.10.23", "then", "httpd-clone", "kind=Serialize"},
	} {
		o, err := parseOrder(more, args)
		if err != nil {
			t.Fatal(err)
		}
		if err := more.AddOrder(o); err != nil {
			t.Fatal(err)
		}
	}
	co, err := parseColocation(more, []string{"httpd-clone", "with", "VIP-10.10.10.23", "-500"})
	if err != nil {
		t.Fatal(err)
	}
	if err := more.AddColocation(co); err != nil {
		t.Fatal(err)
	}
	if err := more.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  *cib.CIB
		full bool
	}{{"constraint-seed.txt", ref, false}, {"constraint-more.txt", more, false}, {"constraint-more-full.txt", more, true}} {
		var buf bytes.Buffer
		writeConstraints(&buf, tc.cfg, tc.full)
		path := filepath.Join("testdata", tc.name)
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if buf.String() != string(want) {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, buf.String(), want)
		}
	}
}

// Negative scores are arguments, not flags; flags may follow the arguments.
func TestNegativeScoreIsAnArgument(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.toml")
	for _, args := range [][]string{
		{"constraint", "colocation", "add", "a", "with", "b", "-INFINITY", "--config", missing},
		{"constraint", "colocation", "add", "--config", missing, "a", "with", "b", "-100"},
		{"resource", "create", "x", "vip", "ip=198.18.0.1", "--disabled", "--config", missing},
	} {
		root := NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.Execute()
		// Parsing got as far as reading the (missing) cluster file.
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("missing.toml")) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// constraintSection cuts one kind out of writeConstraints's text.
func TestConstraintSection(t *testing.T) {
	text := "Location Constraints:\n  Resource: web\n    Enabled on: holly (score:50)\nOrdering Constraints:\n  start grp then start web (kind:Mandatory)\nColocation Constraints:\n"
	for header, want := range map[string]string{
		"Location Constraints:":   "Location Constraints:\n  Resource: web\n    Enabled on: holly (score:50)\n",
		"Ordering Constraints:":   "Ordering Constraints:\n  start grp then start web (kind:Mandatory)\n",
		"Colocation Constraints:": "Colocation Constraints:\n",
		"Ticket Constraints:":     "Ticket Constraints:\n",
	} {
		if got := constraintSection(text, header); got != want {
			t.Errorf("%s: got %q, want %q", header, got, want)
		}
	}
}
