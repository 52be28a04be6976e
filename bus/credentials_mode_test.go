package bus

import (
	"errors"
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

// A key file of mode 0600 owned by another user is that user's to read: a
// daemon run as root with such a key gives the identity away. Refused for
// the cluster key and for a certificate's key.
func TestKeyFileOwnedByAnotherUserRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("TANDEM_REQUIRE_PRIV") == "1" {
			t.Fatal("TANDEM_REQUIRE_PRIV=1 but not root")
		}
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.key")
	s, _ := GenerateSecret()
	if err := WriteSecret(path, s, false); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(path); err != nil {
		t.Fatalf("root's own 0600 key: %v", err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(path); !errors.Is(err, ErrKeyOwner) || !strings.Contains(err.Error(), "chown root "+path) {
		t.Errorf("a cluster key owned by uid 65534: got %v, want refused saying chown root", err)
	}
	if err := InitCA(dir, "c"); err != nil {
		t.Fatal(err)
	}
	if err := Issue(dir, Identity{Role: RoleAdmin, Name: AdminIdentity}); err != nil {
		t.Fatal(err)
	}
	c, k, ca := filepath.Join(dir, AdminIdentity+".crt"), filepath.Join(dir, AdminIdentity+".key"), filepath.Join(dir, "ca.crt")
	if _, err := LoadMaterial(c, k, ca); err != nil {
		t.Fatalf("root's own admin key: %v", err)
	}
	if err := os.Chown(k, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMaterial(c, k, ca); !errors.Is(err, ErrKeyOwner) || !strings.Contains(err.Error(), k) {
		t.Errorf("an admin key owned by uid 65534: got %v, want refused naming %s", err, k)
	}
}
