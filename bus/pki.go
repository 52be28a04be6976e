package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The cluster's public key infrastructure: one CA per cluster (made by
// `tandem pki init`), and one certificate per identity, signed by it. An
// identity is a role and a name, carried in the certificate as the URI SAN
// tandem://ROLE/NAME (the common name repeats the name, for humans). The bus
// decides who may route and what each client may do from that URI only;
// host names and addresses play no part, so certificates survive readdressing.
//
// A PKI directory holds ca.crt, ca.key (keep it off the members if you can:
// it signs identities), and NAME.crt / NAME.key for each identity. Every key
// file is written 0600 and refused when group or others can read it.

// Roles an identity can have.
const (
	RoleMember  = "member"  // a node: runs resources, routes, holds leases
	RoleWitness = "witness" // the third voter: routes, votes, nothing else
	RoleAdmin   = "admin"   // edits the configuration, reads everything
	RoleMonitor = "monitor" // reads status, events and the KV buckets
)

// DefaultPKIDir is where the daemon and the CLI look for the cluster's
// certificates when [bus.tls] says nothing else.
const DefaultPKIDir = "/etc/tandem/pki"

// AdminIdentity is the name of the admin identity `tandem pki init` makes,
// which the CLI uses.
const AdminIdentity = "admin"

// Validity of what `tandem pki` issues.
const (
	CAValidity   = 20 * 365 * 24 * time.Hour
	CertValidity = 5 * 365 * 24 * time.Hour
)

// Identity is who a certificate says its holder is.
type Identity struct {
	Role string
	Name string
}

// URI is the identity as it appears in certificates: tandem://ROLE/NAME.
func (id Identity) URI() string { return "tandem://" + id.Role + "/" + id.Name }

func (id Identity) String() string { return id.Role + " " + id.Name }

// Voter says whether the identity may run a bus server that routes.
func (id Identity) Voter() bool { return id.Role == RoleMember || id.Role == RoleWitness }

func validRole(r string) bool {
	switch r {
	case RoleMember, RoleWitness, RoleAdmin, RoleMonitor:
		return true
	}
	return false
}

// IdentityOf reads the identity from a certificate's tandem:// URI SAN.
func IdentityOf(c *x509.Certificate) (Identity, error) {
	for _, u := range c.URIs {
		if u.Scheme != "tandem" {
			continue
		}
		id := Identity{Role: u.Host, Name: strings.TrimPrefix(u.Path, "/")}
		if !validRole(id.Role) || id.Name == "" || strings.Contains(id.Name, "/") {
			return Identity{}, fmt.Errorf("certificate %q: malformed identity %s", c.Subject.CommonName, u)
		}
		return id, nil
	}
	return Identity{}, fmt.Errorf("certificate %q names no tandem identity (no tandem://ROLE/NAME URI)", c.Subject.CommonName)
}

// ErrKeyMode is returned for key files that others than the owner can read.
var ErrKeyMode = errors.New("key file readable by group or others")

// ErrKeyOwner is returned for key files owned by another user than root
// (or, for a process not run as root, than its own user).
var ErrKeyOwner = errors.New("key file owned by another user")

// CheckKeyFile refuses a key file that group or others can read, and one
// owned by another user than root or this process's: its owner can read
// it whatever its mode (a daemon run as root with a 0600 key owned by
// uid 1000 gives that user the identity). The rule is ssh's.
func CheckKeyFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run `chmod 600 %s`", ErrKeyMode, path, fi.Mode().Perm(), path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if euid := os.Geteuid(); st.Uid != 0 && int(st.Uid) != euid {
			want := "root"
			if euid != 0 {
				want = fmt.Sprintf("root or uid %d (this process)", euid)
			}
			return fmt.Errorf("%w: %s is owned by uid %d, want %s: its owner can read it; run `chown root %s`", ErrKeyOwner, path, st.Uid, want, path)
		}
	}
	return nil
}

// InitCA creates the cluster CA in dir (ca.crt, ca.key), refusing to
// replace one: every certificate of the cluster hangs on it.
func InitCA(dir, cluster string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pki %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
		return fmt.Errorf("pki %s: ca.crt already exists; every certificate of the cluster is signed by it, so issue new certificates with `tandem pki issue` instead", dir)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "tandem CA " + cluster, Organization: []string{"tandem"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, "ca.key"), key); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", der, 0o644)
}

// Issue writes (or replaces) the certificate and key of id in dir, signed by
// the CA there. Replacing is how certificates are rotated.
func Issue(dir string, id Identity) error {
	if !validRole(id.Role) {
		return fmt.Errorf("role %q: want member, witness, admin or monitor", id.Role)
	}
	if id.Name == "" || strings.ContainsAny(id.Name, "/ \t\r\n") || id.Name == "ca" {
		return fmt.Errorf("identity name %q: want a non-empty name without '/' or spaces, not \"ca\"", id.Name)
	}
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	u, err := url.Parse(id.URI())
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: id.Name, OrganizationalUnit: []string{id.Role}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(CertValidity),
		URIs:         []*url.URL{u},
		DNSNames:     dnsNames(id),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	// Key first, then the certificate, each replaced atomically: a reader
	// never sees a certificate without its key.
	if err := writeKey(filepath.Join(dir, id.Name+".key"), key); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, id.Name+".crt"), "CERTIFICATE", der, 0o644)
}

// BusServerName is the DNS name every voter's certificate carries and every
// peer asks for: what vouches for a server is its tandem:// identity, checked
// after the handshake, never its address.
const BusServerName = "tandem-bus"

func dnsNames(id Identity) []string {
	if id.Voter() {
		return []string{BusServerName}
	}
	return nil
}

// IssuedCert is one certificate of a PKI directory, for `tandem pki list`.
type IssuedCert struct {
	File     string
	Identity Identity
	NotAfter time.Time
	Serial   *big.Int
	Err      error // not signed by the CA, no identity, or revoked
}

// List reads every certificate in dir but the CA's.
func List(dir string) ([]IssuedCert, error) {
	pool, err := loadPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	revoked, err := LoadRevocations(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	var out []IssuedCert
	for _, f := range files {
		if filepath.Base(f) == "ca.crt" {
			continue
		}
		ic := IssuedCert{File: f}
		c, err := readCert(f)
		if err == nil {
			ic.NotAfter, ic.Serial = c.NotAfter, c.SerialNumber
			ic.Identity, err = IdentityOf(c)
			if err == nil {
				_, err = c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			}
			if err == nil && revoked.Revoked(c) {
				err = fmt.Errorf("revoked (serial %s, %s)", FormatSerial(c.SerialNumber), revoked.File())
			}
		}
		ic.Err = err
		out = append(out, ic)
	}
	return out, nil
}

// Material is what one identity presents on the bus: its certificate and
// key, and the cluster CA that vouches for peers.
type Material struct {
	Identity Identity
	Cert     tls.Certificate
	CAs      *x509.CertPool
	// Revoked is the CA's revocation list (ca.crl beside ca.crt).
	Revoked *Revocations
}

// LoadMaterial reads the certificate, key and CA of an identity, refusing
// a key file others can read and a certificate the CA did not sign.
func LoadMaterial(certFile, keyFile, caFile string) (*Material, error) {
	for _, f := range []string{certFile, keyFile, caFile} {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist; create the cluster's certificates with `tandem pki init --config cluster.toml --dir DIR` and copy each member's files to it (see docs/security.md)", ErrNoCredentials, f)
		}
	}
	if err := CheckKeyFile(keyFile); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCredentials, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %s / %s: %v", ErrNoCredentials, certFile, keyFile, err)
	}
	pool, err := loadPool(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCredentials, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoCredentials, certFile, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid under the cluster CA %s: %v; issue it again with `tandem pki issue`", ErrNoCredentials, certFile, caFile, err)
	}
	id, err := IdentityOf(leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoCredentials, certFile, err)
	}
	revoked, err := LoadRevocations(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCredentials, err)
	}
	if err := revoked.check(leaf); err != nil {
		return nil, fmt.Errorf("%w: %s: %v; issue a new one with `tandem pki issue`", ErrNoCredentials, certFile, err)
	}
	cert.Leaf = leaf
	return &Material{Identity: id, Cert: cert, CAs: pool, Revoked: revoked}, nil
}

// Files says where the certificate, key and CA of identity name are: in
// the PKI directory when t gives one (or by default), else t's own paths.
func (t *TLS) Files(name string) (cert, key, ca string) {
	if t == nil || (t.Dir == "" && t.Cert == "") {
		d := DefaultPKIDir
		if t != nil && t.Dir != "" {
			d = t.Dir
		}
		return filepath.Join(d, name+".crt"), filepath.Join(d, name+".key"), filepath.Join(d, "ca.crt")
	}
	if t.Dir != "" {
		return filepath.Join(t.Dir, name+".crt"), filepath.Join(t.Dir, name+".key"), filepath.Join(t.Dir, "ca.crt")
	}
	return t.Cert, t.Key, t.CA
}

// UsesTLS says whether the bus of t runs with mutual TLS: always with more
// than one member (the default PKI directory applies when [bus.tls] is
// absent), and in a single-member development cluster only when asked.
func (t *Topology) UsesTLS() bool { return t.TLS != nil || len(t.Members) > 1 }

// LoadMaterialFor loads the TLS material of identity name under t.
func (t *Topology) LoadMaterialFor(name string) (*Material, error) {
	c, k, ca := t.TLS.Files(name)
	return LoadMaterial(c, k, ca)
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	c, err := readCert(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; create the CA first with `tandem pki init`", err)
	}
	if err := CheckKeyFile(keyFile); err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, nil, fmt.Errorf("%s: no PEM key in it", keyFile)
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return c, k, nil
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return x509.ParseCertificate(b.Bytes)
}

func loadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("cluster CA %s: no PEM certificate in it", path)
	}
	return pool, nil
}

func writeKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

// writePEM replaces path atomically with a file of the given mode.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}
