package ocf

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Several bridge processes may install the shim into one state directory at
// once (two nodes' bridges in one test, or a plugin process that is being
// replaced): every install succeeds and leaves the shim and its links in
// place. (Found by host/daemon TestOCFNotifyOnALiveCluster: a bridge whose
// install lost the race ran the agents with the system's crm_attribute,
// which could not reach a CIB, and the start failed.)
func TestShimInstallsConcurrently(t *testing.T) {
	for round := range 20 {
		dir := filepath.Join(t.TempDir(), "state")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var st attrStore
				errs[i] = st.install(dir)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: install %d: %v", round, i, err)
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "bin", "crm_attribute"))
		if err != nil || string(data) != shimScript {
			t.Fatalf("round %d: the shim is not in place (%v)", round, err)
		}
		for _, n := range shimNames[1:] {
			if l, err := os.Readlink(filepath.Join(dir, "bin", n)); err != nil || l != shimNames[0] {
				t.Fatalf("round %d: %s -> %q (%v), want %s", round, n, l, err, shimNames[0])
			}
		}
		left, _ := filepath.Glob(filepath.Join(dir, "bin", ".crm_attribute.*"))
		if len(left) != 0 {
			t.Fatalf("round %d: temporary files left: %v", round, left)
		}
	}
}
