package memstat_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/memstat"
)

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("TANDEM_REQUIRE_PRIV") == "1" {
			t.Fatal("TANDEM_REQUIRE_PRIV=1 but not root")
		}
		t.Skip("reading page frame numbers needs root")
	}
}

// TestMain doubles as an idle process of this program (a Go binary of a
// few MB) when the environment says so.
func TestMain(m *testing.M) {
	if os.Getenv("MEMSTAT_TEST_IDLE") == "1" {
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// idler starts an idle copy of this program and returns its pid once it
// has started up.
func idler(t *testing.T) int {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "MEMSTAT_TEST_IDLE=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("idle process: %q %v", line, err)
	}
	return cmd.Process.Pid
}

// Two processes of one program share its pages: counted once, they take
// less than their RSS summed; one process alone is counted in full.
func TestSharedPagesCountOnce(t *testing.T) {
	needRoot(t)
	self, err := memstat.Measure([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if self.Procs != 1 || self.Distinct == 0 || self.DistinctAnon == 0 || self.Distinct > self.RSS+(1<<20) {
		t.Fatalf("this process: %+v", self)
	}
	a, b := idler(t), idler(t)
	one, err := memstat.Measure([]int{a})
	if err != nil {
		t.Fatal(err)
	}
	two, err := memstat.Measure([]int{a, b, 1 << 30}) // no such process: left out
	if err != nil {
		t.Fatal(err)
	}
	if two.Procs != 2 || two.Distinct > two.RSS*3/4 || two.Distinct < one.Distinct {
		t.Fatalf("one idle process: %+v; two: %+v", one, two)
	}
	t.Logf("one idle process: %s; two: %s", one, two)
}

func TestHiddenFramesWithoutRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root sees the page frame numbers")
	}
	if _, err := memstat.Measure([]int{os.Getpid()}); !errors.Is(err, memstat.ErrNoPFN) {
		t.Fatalf("without root: %v, want ErrNoPFN", err)
	}
}
