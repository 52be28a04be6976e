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

// knownDifferences are the comparable cases Tandem places differently, and
// why (docs/migrating-from-pacemaker.md).
var knownDifferences = map[string]string{
	"promoted-role": "both instances promoted with equal promotion scores and promoted-max 1: a tie, which Pacemaker breaks towards sles11-b and Tandem towards sles11-a, the first node",
}

// instancesOf lists a state's active instances as pacemakerPlacement does.
func instancesOf(s policies.State) []string {
	var out []string
	for _, in := range s.Instances {
		out = append(out, placed(in.Resource, in.Node, in.Role))
	}
	slices.Sort(out)
	return out
}

// TestPacemakerSuitePlacement runs the comparison of
// TestImportedPlacementMatchesPacemaker over Pacemaker's whole regression
// suite, when PACEMAKER_CTS names a checkout's cts/scheduler directory
// (git clone https://github.com/ClusterLabs/pacemaker): every case whose
// status stateOf reads (and reads as the summary's current status: no
// failures, pending or migrating operations, run-time node attributes,
// remote nodes) and from which nothing relevant was left out of the import.
func TestPacemakerSuitePlacement(t *testing.T) {
	dir := os.Getenv("PACEMAKER_CTS")
	if dir == "" {
		t.Skip("PACEMAKER_CTS is not set (a checkout's cts/scheduler directory)")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "xml", "*.xml"))
	bad := regexp.MustCompile(`FAILED|maintenance|unmanaged|Remote|Guest|pending|UNCLEAN|blocked|Migrat|migrat|shutdown`)
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
		// The status as read must be the summary's current status, else
		// this reading of the operation history missed something.
		state, ok := stateOf(x, res.CIB)
		if !ok || !slices.Equal(instancesOf(state), summaryPlacement(cur, res.CIB)) {
			continue
		}
		out, err := policies.Schedule(policies.Input{CIB: res.CIB, State: state, Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
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
			if len(state.Instances) > 0 {
				t.Logf("matched with %d instance(s) running: %s", len(state.Instances), name)
			}
			continue
		}
		if why, ok := knownDifferences[name]; ok {
			t.Logf("%s: differs as documented: %s", name, why)
			continue
		}
		t.Errorf("%s: placement differs from Pacemaker's:\n tandem:    %v\n pacemaker: %v", name, got, want)
	}
	t.Logf("%d of %d comparable cases placed as Pacemaker places them (%d known differences)", match, total, len(knownDifferences))
	if total == 0 {
		t.Errorf("no comparable case under %s", dir)
	}
}
