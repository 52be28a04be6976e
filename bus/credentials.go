package bus

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"
)

// The shared secret of a single-member development cluster without TLS: 32
// random bytes, hex-encoded in a file. Clients authenticate with an nkey
// derived from it (challenge-response: the seed never leaves the host). A
// cluster of more than one member uses mutual TLS instead (pki.go): one
// identity per member, witness and admin, and no shared secret.

// SecretSize is the length of the shared secret in bytes.
const SecretSize = 32

// ErrNoCredentials is returned when the credentials file does not exist.
var ErrNoCredentials = errors.New("credentials file missing")

// Secret is the cluster's shared secret.
type Secret []byte

// GenerateSecret makes a new random secret.
func GenerateSecret() (Secret, error) {
	s := make(Secret, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("generating secret: %w", err)
	}
	return s, nil
}

// WriteSecret writes s to path (mode 0600), refusing to overwrite an existing
// file unless force is set: replacing a cluster's secret locks every member
// out until the new file is copied to all of them.
func WriteSecret(path string, s Secret, force bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("credentials %s: %w", path, err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("credentials %s already exists; every member must hold the same file, so copy it instead (or pass --force to replace it everywhere)", path)
	}
	if err != nil {
		return fmt.Errorf("credentials %s: %w", path, err)
	}
	_, err = fmt.Fprintf(f, "%s\n", hex.EncodeToString(s))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("credentials %s: %w", path, err)
	}
	return nil
}

// LoadSecret reads the secret written by WriteSecret (`tandem keygen`).
func LoadSecret(path string) (Secret, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: [bus] credentials names no file; create one with `tandem keygen --out FILE` and set credentials = \"FILE\"", ErrNoCredentials)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; create it once with `tandem keygen --out %s` and copy it to every member", ErrNoCredentials, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	// Whoever reads the key is a member: refuse one others can read.
	if err := CheckKeyFile(path); err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	s, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(s) < 16 {
		return nil, fmt.Errorf("credentials %s: not a tandem key (want the hex line `tandem keygen` writes)", path)
	}
	return s, nil
}

func (s Secret) derive(purpose string) []byte {
	m := hmac.New(sha256.New, s)
	m.Write([]byte("tandem/v1/" + purpose))
	return m.Sum(nil)
}

// LoadSecret reads the cluster secret when the bus of t runs without TLS
// (a single-member development cluster); a TLS bus needs none (nil).
func (t *Topology) LoadSecret() (Secret, error) {
	if t.UsesTLS() {
		return nil, nil
	}
	return LoadSecret(t.Credentials)
}

// clientKey is the nkey every client of the cluster signs in with.
func (s Secret) clientKey() (nkeys.KeyPair, error) {
	return nkeys.FromRawSeed(nkeys.PrefixByteUser, s.derive("client-nkey"))
}
