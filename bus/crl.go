package bus

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Revocation: `tandem pki revoke` adds a certificate's serial number to the
// cluster's certificate revocation list, ca.crl beside ca.crt, signed by the
// CA key. Every member refuses a revoked certificate on its client port and
// on its routes (both ways), and a client refuses a bus server presenting
// one. A member notices a new ca.crl within a second (it polls the file's
// size and modification time) and closes the connections that present a
// certificate it now revokes: no restart is needed.
//
// A ca.crl that does not parse, or that no CA of ca.crt signed, is refused
// with an error naming the file; a member then keeps the list it had (at
// start, it refuses to start).

// CRLFile is the revocation list of the CA file caFile.
func CRLFile(caFile string) string { return filepath.Join(filepath.Dir(caFile), "ca.crl") }

// RevokeResult says what Revoke did.
type RevokeResult struct {
	Serial   *big.Int
	Identity string // the name the serial was found under, if any
	Already  bool   // the serial was revoked before: nothing was written
	File     string // the CRL
}

// Revoke adds a certificate to the CRL of the PKI directory dir. what is an
// identity name (its NAME.crt is read for the serial) or a serial number in
// hexadecimal (as `openssl x509 -serial` prints it, colons allowed).
func Revoke(dir, what string) (RevokeResult, error) {
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return RevokeResult{}, err
	}
	res := RevokeResult{File: filepath.Join(dir, "ca.crl")}
	certFile := filepath.Join(dir, what+".crt")
	if what != "ca" && !strings.ContainsAny(what, "/\\") {
		if c, err := readCert(certFile); err == nil {
			res.Serial, res.Identity = c.SerialNumber, what
		} else if !errors.Is(err, fs.ErrNotExist) {
			return RevokeResult{}, err
		}
	}
	if res.Serial == nil {
		s, ok := ParseSerial(what)
		if !ok {
			return RevokeResult{}, fmt.Errorf("%q: there is no %s and it is not a serial number (hexadecimal, as `openssl x509 -noout -serial` prints it)", what, certFile)
		}
		res.Serial = s
	}
	var entries []x509.RevocationListEntry
	number := big.NewInt(1)
	old, err := readCRL(res.File, []*x509.Certificate{ca})
	switch {
	case err == nil:
		for _, e := range old.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(res.Serial) == 0 {
				res.Already = true
				return res, nil
			}
		}
		entries = old.RevokedCertificateEntries
		if old.Number != nil {
			number.Add(old.Number, big.NewInt(1))
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return RevokeResult{}, fmt.Errorf("%w; move it away to start a new list (it revokes nothing then)", err)
	}
	now := time.Now()
	entries = append(entries, x509.RevocationListEntry{SerialNumber: res.Serial, RevocationTime: now})
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		RevokedCertificateEntries: entries,
		Number:                    number,
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                ca.NotAfter,
	}, ca, caKey)
	if err != nil {
		return RevokeResult{}, fmt.Errorf("signing %s: %w", res.File, err)
	}
	if err := writePEM(res.File, "X509 CRL", der, 0o644); err != nil {
		return RevokeResult{}, err
	}
	return res, nil
}

// ParseSerial reads a serial number written in hexadecimal, with or without
// colons and a 0x prefix.
func ParseSerial(s string) (*big.Int, bool) {
	h := strings.TrimPrefix(strings.TrimPrefix(strings.ReplaceAll(s, ":", ""), "0x"), "0X")
	if h == "" {
		return nil, false
	}
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || n.Sign() <= 0 {
		return nil, false
	}
	return n, true
}

// FormatSerial writes a serial number as `openssl x509 -serial` does.
func FormatSerial(n *big.Int) string { return strings.ToUpper(n.Text(16)) }

// readCRL parses a PEM (or DER) CRL and checks that one of cas signed it.
func readCRL(path string, cas []*x509.Certificate) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("%s: a PEM %q block, not an X509 CRL", path, b.Type)
		}
		der = b.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not a certificate revocation list: %v", path, err)
	}
	var sigErr error
	for _, ca := range cas {
		if sigErr = crl.CheckSignatureFrom(ca); sigErr == nil {
			return crl, nil
		}
	}
	if sigErr == nil {
		sigErr = errors.New("no CA to check it against")
	}
	return nil, fmt.Errorf("%s: not signed by the cluster CA: %v", path, sigErr)
}

// Revocations is the revocation list one process enforces: the serials of
// ca.crl, re-read when the file changes.
type Revocations struct {
	file string
	cas  []*x509.Certificate

	mu      sync.Mutex
	serials map[string]bool // big.Int.String()
	stamp   fileStamp       // of the list in force
	bad     fileStamp       // of the last refused file
	badErr  error           // why it was refused
	loaded  bool            // a list was read (a missing file counts as an empty one)
	pending error           // a refusal not yet taken by TakeError
	version int             // counts the changes of the list in force
}

// fileStamp tells versions of a file apart: its size, modification time
// and inode (a list replaced by a rename, as Revoke and most copies do, is
// a new inode even when size and time match).
type fileStamp struct {
	exists bool
	size   int64
	mtime  time.Time
	inode  uint64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{exists: true, size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.inode = sys.Ino
	}
	return st, nil
}

// LoadRevocations reads the CRL beside caFile (none is an empty list),
// refusing one that does not parse or that no CA of caFile signed.
func LoadRevocations(caFile string) (*Revocations, error) {
	cas, err := readCerts(caFile)
	if err != nil {
		return nil, err
	}
	r := &Revocations{file: CRLFile(caFile), cas: cas, serials: map[string]bool{}}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// File is the CRL's path.
func (r *Revocations) File() string { return r.file }

// Revoked says whether the list revokes c. It re-reads the file first when
// it changed: a stat per call, so that a handshake right after a revocation
// already sees it.
func (r *Revocations) Revoked(c *x509.Certificate) bool {
	if r == nil {
		return false
	}
	_, _ = r.Reload()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.serials[c.SerialNumber.String()]
}

// check refuses a revoked certificate with an error naming it and the list.
func (r *Revocations) check(c *x509.Certificate) error {
	if r.Revoked(c) {
		return fmt.Errorf("certificate %q (serial %s) is revoked by %s", c.Subject.CommonName, FormatSerial(c.SerialNumber), r.file)
	}
	return nil
}

// Reload re-reads the list when the file changed since it was last read,
// and says whether the list in force changed. A file that does not parse,
// is not signed by the CA or has disappeared is refused: the previous list
// stays in force and the error names the file.
func (r *Revocations) Reload() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := stampOf(r.file)
	if err != nil {
		return false, r.refuse(st, fmt.Errorf("revocation list %s: %w", r.file, err))
	}
	if st == r.stamp && r.loaded {
		return false, nil
	}
	if st == r.bad && r.badErr != nil {
		return false, r.badErr // refused already: not parsed again
	}
	if !st.exists && !r.loaded {
		r.stamp, r.loaded = st, true // no list: nothing is revoked
		return false, nil
	}
	if !st.exists {
		return false, r.refuse(st, fmt.Errorf("revocation list %s has disappeared; still enforcing the %d revocations read before (restart to drop them)", r.file, len(r.serials)))
	}
	crl, err := readCRL(r.file, r.cas)
	if err != nil {
		if r.loaded {
			err = fmt.Errorf("revocation list refused, still enforcing the %d revocations read before: %w", len(r.serials), err)
		} else {
			err = fmt.Errorf("revocation list refused: %w", err)
		}
		return false, r.refuse(st, err)
	}
	serials := map[string]bool{}
	for _, e := range crl.RevokedCertificateEntries {
		serials[e.SerialNumber.String()] = true
	}
	changed := len(serials) != len(r.serials)
	for s := range serials {
		if !r.serials[s] {
			changed = true
		}
	}
	r.serials, r.stamp, r.bad, r.badErr, r.loaded = serials, st, fileStamp{}, nil, true
	if changed {
		r.version++
	}
	return changed, nil
}

func (r *Revocations) refuse(st fileStamp, err error) error {
	if st != r.bad || r.badErr == nil {
		r.bad, r.badErr, r.pending = st, err, err
	}
	return err
}

// TakeError returns a refusal of the file not returned by TakeError before:
// each version of a bad file is reported once.
func (r *Revocations) TakeError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.pending
	r.pending = nil
	return err
}

// Version counts the changes of the list in force: whoever reloads it
// (a handshake may, too), a watcher sees a new version.
func (r *Revocations) Version() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

// Len is how many certificates the list in force revokes.
func (r *Revocations) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.serials)
}

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cluster CA %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster CA %s: no PEM certificate in it", path)
	}
	return out, nil
}

// seenCerts remembers the peer certificates a member verified: those of
// its routes by the SHA-256 of their public key (nats-server's pinned-key
// id), those of its clients by the SHA-256 of the certificate (as Connz
// reports it). Only certificates the cluster CA signed get here, so both
// are as small as the set of identities issued.
type seenCerts struct {
	mu      sync.Mutex
	routes  map[string]*x509.Certificate
	clients map[string]*x509.Certificate
}

func newSeenCerts() *seenCerts {
	return &seenCerts{routes: map[string]*x509.Certificate{}, clients: map[string]*x509.Certificate{}}
}

func keyID(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func certID(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func (r *seenCerts) addRoute(c *x509.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[keyID(c)] = c
}

func (r *seenCerts) addClient(c *x509.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients[certID(c)] = c
}

func (r *seenCerts) client(sum string) *x509.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clients[sum]
}

// split gives the key ids of the remembered certificates rev does not
// revoke, and the names of those it does.
func (r *seenCerts) split(rev *Revocations) (keep server.PinnedCertSet, revoked []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep = server.PinnedCertSet{}
	for id, c := range r.routes {
		if rev.Revoked(c) {
			revoked = append(revoked, c.Subject.CommonName)
			delete(r.routes, id)
			continue
		}
		keep[id] = struct{}{}
	}
	return keep, revoked
}

// watchRevocations re-reads the member's revocation list every interval
// until stop is closed, and closes the connections whose certificate a new
// list revokes.
func (s *Server) watchRevocations(rev *Revocations, seen *seenCerts, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	seenVersion := rev.Version()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		_, _ = rev.Reload()
		if err := rev.TakeError(); err != nil {
			s.log.Error("bus: "+err.Error(), "component", "bus")
		}
		if v := rev.Version(); v == seenVersion {
			continue
		} else {
			seenVersion = v
		}
		s.log.Info("bus: revocation list reloaded", "file", rev.File(), "revoked", rev.Len())
		s.closeRevokedClients(rev, seen)
		s.closeRevokedRoutes(rev, seen)
	}
}

// closeRevokedClients disconnects the network clients whose certificate
// rev revokes.
func (s *Server) closeRevokedClients(rev *Revocations, seen *seenCerts) {
	cz, err := s.ns.Connz(&server.ConnzOptions{Username: true, Limit: 1 << 20, State: server.ConnOpen})
	if err != nil {
		s.log.Error("bus: listing clients to close revoked ones", "err", err)
		return
	}
	for _, ci := range cz.Conns {
		if len(ci.TLSPeerCerts) == 0 {
			continue
		}
		c := seen.client(ci.TLSPeerCerts[0].CertSha256)
		if c == nil || !rev.Revoked(c) {
			continue
		}
		if err := s.ns.DisconnectClientByID(ci.Cid); err == nil {
			s.log.Warn("bus: closed a client whose certificate is revoked", "client", ci.AuthorizedUser, "from", ci.IP, "file", rev.File())
		}
	}
}

// closeRevokedRoutes closes the routes whose certificate rev revokes.
// nats-server closes routes only for a reload of its pinned route keys:
// the member pins the keys of every route it knows but the revoked ones
// for one reload, which closes those, then unpins them (new routes are
// checked at their handshake, including against the revocation list).
func (s *Server) closeRevokedRoutes(rev *Revocations, seen *seenCerts) {
	keep, revoked := seen.split(rev)
	if len(revoked) == 0 {
		return
	}
	s.optsMu.Lock()
	defer s.optsMu.Unlock()
	pinned := s.opts.Clone()
	pinned.Cluster.TLSPinnedCerts = keep
	if err := s.ns.ReloadOptions(pinned); err != nil {
		s.log.Error("bus: closing routes whose certificate is revoked", "routes", revoked, "err", err)
		return
	}
	s.log.Warn("bus: closed the routes whose certificate is revoked", "routes", revoked, "file", rev.File())
	unpinned := pinned.Clone()
	unpinned.Cluster.TLSPinnedCerts = nil
	if err := s.ns.ReloadOptions(unpinned); err != nil {
		s.log.Error("bus: unpinning the route keys after closing revoked routes; new routes are refused until restart", "err", err)
		s.opts = pinned
		return
	}
	s.opts = unpinned
}
