package vip

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// DefaultStateDir holds one record per address this agent added. /run is
// a tmpfs: the records go at reboot together with the addresses.
const DefaultStateDir = "/run/tandem/vip"

// ownerRecord says that this agent added IP/Prefix on NIC. It is the mark
// of ownership on kernels that drop IFA_PROTO (before 6.3), and says which
// resource an address belongs to when someone looks by hand.
type ownerRecord struct {
	Resource string    `json:"resource"`
	IP       string    `json:"ip"`
	Prefix   int       `json:"prefix"`
	NIC      string    `json:"nic"`
	Added    time.Time `json:"added"`
}

func (a *Agent) recordPath(ip netip.Addr) string {
	return filepath.Join(a.stateDir, ip.String()+".json")
}

// writeRecord is called before the address is added, so that a crash in
// between leaves a record without an address (harmless) rather than an
// address nobody owns.
func (a *Agent) writeRecord(rec ownerRecord) error {
	if a.stateDir == "" {
		return nil
	}
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(rec.IP)
	if err != nil {
		return err
	}
	path := a.recordPath(ip)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write ownership record: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write ownership record: %w", err)
	}
	return nil
}

// readRecord returns nil when there is no record for ip.
func (a *Agent) readRecord(ip netip.Addr) (*ownerRecord, error) {
	if a.stateDir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(a.recordPath(ip))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ownership record: %w", err)
	}
	var rec ownerRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		// A torn record cannot prove ownership; treat it as absent.
		return nil, nil
	}
	return &rec, nil
}

func (a *Agent) removeRecord(ip netip.Addr) error {
	if a.stateDir == "" {
		return nil
	}
	err := os.Remove(a.recordPath(ip))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove ownership record: %w", err)
	}
	return nil
}
