package cibimport

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies"
)

// TestPacemakerSuitePlacement runs the comparison of
// TestImportedPlacementMatchesPacemaker over Pacemaker's whole regression
// suite, when PACEMAKER_CTS names a checkout's cts/scheduler directory
// (git clone https://github.com/ClusterLabs/pacemaker): every case where
// nothing runs yet, every node is online, no failure is recorded and
// nothing relevant was left out of the import.
var transientRE = regexp.MustCompile(`<nvpair [^>]*name="(?:[^"pf]|p[^r]|f[^a])`)

func statusOf(cibXML []byte) []byte {
	if i := strings.Index(string(cibXML), "<status"); i >= 0 {
		return cibXML[i:]
	}
	return nil
}

func TestPacemakerSuitePlacement(t *testing.T) {
	dir := os.Getenv("PACEMAKER_CTS")
	if dir == "" {
		t.Skip("PACEMAKER_CTS is not set (a checkout's cts/scheduler directory)")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "xml", "*.xml"))
	bad := regexp.MustCompile(`Started|Promoted|Unpromoted|Slave|Master|OFFLINE|standby|FAILED|maintenance|Stopped \(disabled\)|unmanaged|Remote|Guest|pending|UNCLEAN`)
	match, total := 0, 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		sum, err := os.ReadFile(filepath.Join(dir, "summary", name+".summary"))
		if err != nil {
			continue
		}
		cur, _, _ := strings.Cut(string(sum), "Transition Summary")
		if bad.MatchString(cur) {
			continue
		}
		x, _ := os.ReadFile(f)
		// Recorded failures, something running, or node attributes set at
		// run time (pingd): the status decides too, and it is not imported.
		if strings.Contains(string(x), "fail-count") || strings.Contains(string(x), "rc-code=\"0\"") || transientRE.Match(statusOf(x)) {
			continue
		}
		fh, _ := os.Open(f)
		res, err := Parse(name, fh)
		fh.Close()
		if err != nil {
			continue
		}
		relevant := 0
		for _, it := range res.Skipped {
			if !strings.Contains(it.Why, "no-quorum-policy") && !strings.Contains(it.Why, "fenc") {
				relevant++
			}
		}
		if relevant > 0 || len(res.CIB.Resources) == 0 {
			continue
		}
		out, err := policies.Schedule(policies.Input{CIB: res.CIB, State: policies.State{Nodes: policies.AllOnline(res.CIB)}, Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		total++
		var got []string
		for _, a := range out.Placement {
			got = append(got, placed(a.Resource, a.Node, a.Role))
		}
		slices.Sort(got)
		want := pacemakerPlacement(t, filepath.Join(dir, "summary", name+".summary"), res.CIB)
		if slices.Equal(got, want) {
			match++
			continue
		}
		t.Errorf("%s: placement differs from Pacemaker's:\n tandem:    %v\n pacemaker: %v", name, got, want)
	}
	t.Logf("%d of %d comparable cases placed as Pacemaker places them", match, total)
	if total == 0 {
		t.Errorf("no comparable case under %s", dir)
	}
}
