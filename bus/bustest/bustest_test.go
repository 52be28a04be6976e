package bustest

import "testing"

// FreePorts never hands out a port twice in a process when the system
// chooses them: drawn 1,000 times from the system's ephemeral range, some
// port would come again (the birthday bound, about 28,000 ports), which is
// how a test's metrics port was once a member's client port.
func TestFreePortsNeverRepeat(t *testing.T) {
	t.Setenv("TANDEM_TEST_PORTS", "")
	seen := map[int]bool{}
	for range 1000 {
		for _, p := range FreePorts(t, 1) {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
}
