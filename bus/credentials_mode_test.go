package bus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A 0644 key file was accepted silently: anyone on the host could read the
// cluster's key.
func TestCredentialsReadableByOthersRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.key")
	s, _ := GenerateSecret()
	if err := WriteSecret(path, s, false); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSecret(path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: got %v, want refused saying chmod 600", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}
