package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Status is a check's verdict.
type Status string

const (
	// Starting: started, no check run yet. Like HAProxy's default
	// init-state "up", the first check decides: one failure is enough to go
	// down, one success to be up.
	Starting Status = "starting"
	Up       Status = "up"
	Down     Status = "down"
)

// Tracker applies rise and fall to a series of checks: it goes down after
// fall consecutive failures and back up after rise consecutive successes.
// It is pure; the agent stores it between monitors.
type Tracker struct {
	Status  Status `json:"status"`
	OKRun   int    `json:"ok_run"`   // consecutive successes so far
	FailRun int    `json:"fail_run"` // consecutive failures so far
}

// Observe records one check's result.
func (t *Tracker) Observe(ok bool, rise, fall int) {
	if ok {
		t.OKRun++
		t.FailRun = 0
		if t.Status == Starting || (t.Status == Down && t.OKRun >= rise) {
			t.Status = Up
		}
		return
	}
	t.FailRun++
	t.OKRun = 0
	if t.Status == Starting || (t.Status == Up && t.FailRun >= fall) {
		t.Status = Down
	}
}

// DefaultStateDir holds a record per started check instance, so that a
// restarted plugin still knows what the host started (and its rise/fall
// counts). /run is a tmpfs: records go at reboot.
const DefaultStateDir = "/run/tandem/health"

// record is what is kept of one started instance.
type record struct {
	Resource string  `json:"resource"`
	Clone    int     `json:"clone"`
	Tracker  Tracker `json:"tracker"`
}

func (a *Agent) recordPath(key string) string {
	return filepath.Join(a.stateDir, url.PathEscape(key)+".json")
}

func (a *Agent) writeRecord(key string, rec record) error {
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	path := a.recordPath(key)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// readRecord returns nil when the instance is not started.
func (a *Agent) readRecord(key string) (*record, error) {
	b, err := os.ReadFile(a.recordPath(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		// Started, counts lost: begin again as if just started.
		return &record{Tracker: Tracker{Status: Starting}}, nil
	}
	return &rec, nil
}

func (a *Agent) removeRecord(key string) error {
	err := os.Remove(a.recordPath(key))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}
