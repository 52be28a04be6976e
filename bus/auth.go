package bus

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Who may connect to a member's server, and as whom:
//   - a route, only over mutual TLS, from a peer whose certificate (signed by
//     the cluster CA) names a configured member or the witness, not this
//     member itself;
//   - a network client, over mutual TLS, as the identity of its certificate,
//     with that role's permissions (permissions.go); in a single-member
//     development cluster without TLS, with the nkey of the cluster secret
//     (challenge-response), as an admin;
//   - the member's own in-process connections (its daemon, the system account
//     for meta leader stepdown, and the read-only one its status page reads
//     with, which has a monitor identity's permissions), with a password
//     made at start that only lives in this process and never crosses a
//     network.
//
// No password or secret is ever sent on a socket.

// localUser and localSysUser are the in-process identities.
const (
	localUser    = "tandem-local"
	localSysUser = "tandem-local-system"
	// localMonitorUser reads with the permissions of a monitor
	// certificate: the status page's connection, which must not be able
	// to change anything even if the page had a bug.
	localMonitorUser = "tandem-local-monitor"
)

// DevIdentity is the admin identity of a client of a development bus
// without TLS (it holds the cluster secret).
const DevIdentity = "cli"

// localCredential is the in-process password of one server.
type localCredential string

func newLocalCredential() (localCredential, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return localCredential(hex.EncodeToString(b)), nil
}

// authenticator is the server's client and route authentication.
type authenticator struct {
	top   *Topology
	me    Member
	local localCredential
	// clientPub is the nkey of the cluster secret, for a bus without TLS.
	clientPub string
	ns        *server.Server // set once the server exists
	log       *slog.Logger
	limit     *logLimiter
}

// Check authenticates a client connection.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	cs := c.GetTLSConnectionState()
	if cs == nil && o.Username != "" {
		// Only in-process connections come without TLS on a TLS bus.
		switch o.Username {
		case localUser:
			if a.local.matches(o.Password) {
				c.RegisterUser(&server.User{Username: localUser, Account: a.ns.GlobalAccount()})
				return true
			}
		case localSysUser:
			if a.local.matches(o.Password) {
				c.RegisterUser(&server.User{Username: localSysUser, Account: a.ns.SystemAccount()})
				return true
			}
		case localMonitorUser:
			if a.local.matches(o.Password) {
				c.RegisterUser(&server.User{Username: localMonitorUser, Account: a.ns.GlobalAccount(),
					Permissions: Permissions(Identity{Role: RoleMonitor, Name: localMonitorUser})})
				return true
			}
		}
		a.refuse("client", c, "wrong in-process credential")
		return false
	}
	if cs == nil {
		if a.clientPub == "" || o.Nkey != a.clientPub || !verifyNonce(o.Nkey, o.Sig, c.GetNonce()) {
			a.refuse("client", c, "no valid cluster key")
			return false
		}
		c.RegisterUser(&server.User{Username: DevIdentity, Account: a.ns.GlobalAccount(),
			Permissions: Permissions(Identity{Role: RoleAdmin, Name: DevIdentity})})
		return true
	}
	id, err := peerIdentity(cs)
	if err != nil {
		a.refuse("client", c, err.Error())
		return false
	}
	c.RegisterUser(&server.User{Username: id.URI(), Account: a.ns.GlobalAccount(), Permissions: Permissions(id)})
	return true
}

func (l localCredential) matches(p string) bool {
	return l != "" && subtle.ConstantTimeCompare([]byte(l), []byte(p)) == 1
}

func verifyNonce(pub, sig string, nonce []byte) bool {
	kp, err := nkeys.FromPublicKey(pub)
	if err != nil {
		return false
	}
	s, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if s, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return false
		}
	}
	return kp.Verify(nonce, s) == nil
}

// routeAuthenticator accepts routes from configured voters only.
type routeAuthenticator struct{ a *authenticator }

// Check authenticates a route.
func (r routeAuthenticator) Check(c server.ClientAuthentication) bool {
	cs := c.GetTLSConnectionState()
	if cs == nil {
		r.a.refuse("route", c, "no TLS")
		return false
	}
	id, err := peerIdentity(cs)
	if err == nil {
		err = r.a.top.checkVoter(id, r.a.me.Name)
	}
	if err != nil {
		r.a.refuse("route", c, err.Error())
		return false
	}
	return true
}

// checkVoter says whether id may route to member self: a configured member
// with the matching role, and not self.
func (t *Topology) checkVoter(id Identity, self string) error {
	m, ok := t.Member(id.Name)
	switch {
	case !id.Voter():
		return fmt.Errorf("%s is not a member or witness identity", id)
	case !ok:
		return fmt.Errorf("%s is not a configured member", id)
	case m.Witness != (id.Role == RoleWitness):
		return fmt.Errorf("%s: %s is configured as a %s", id, m.Name, m.kind())
	case id.Name == self:
		return fmt.Errorf("%s: a peer presents this member's own identity", id)
	}
	return nil
}

// peerIdentity is the identity of a verified peer certificate.
func peerIdentity(cs *tls.ConnectionState) (Identity, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}, errors.New("no verified certificate")
	}
	return IdentityOf(cs.VerifiedChains[0][0])
}

func (a *authenticator) refuse(kind string, c server.ClientAuthentication, why string) {
	// A connection closed while it was being authenticated (its peer hung
	// up after CONNECT, or the server timed it out) has no address any
	// more, nor TLS state: that is all that is wrong with it. (Its nil
	// address crashed the whole host, with 32 starved in-process members;
	// any peer could have done it on purpose.)
	from := c.RemoteAddress()
	if from == nil {
		a.log.Debug("bus refused a "+kind+" closed while it was authenticated", "reason", why)
		return
	}
	if a.limit.allow() {
		a.log.Warn("bus refused a "+kind, "from", from.String(), "reason", why)
	}
}

// tlsConfigs builds the client-port and route TLS configurations of a
// member: TLS 1.3, peer certificates required, verified against the
// cluster CA and its revocation list; routes also check that the peer is a
// configured voter, both ways, and are remembered in seen (to close them
// when their certificate is revoked later).
func (t *Topology) tlsConfigs(mat *Material, self string, seen *seenCerts) (client, route *tls.Config) {
	client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{mat.Cert},
		ClientCAs:    mat.CAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("client sent no certificate")
			}
			if err := mat.Revoked.check(cs.PeerCertificates[0]); err != nil {
				return err
			}
			seen.addClient(cs.PeerCertificates[0])
			return nil
		},
	}
	route = client.Clone()
	route.RootCAs = mat.CAs
	route.ServerName = BusServerName
	route.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("peer sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		id, err := IdentityOf(leaf)
		if err != nil {
			return err
		}
		if err := t.checkVoter(id, self); err != nil {
			return err
		}
		if err := mat.Revoked.check(leaf); err != nil {
			return err
		}
		seen.addRoute(leaf)
		return nil
	}
	return client, route
}

// ClientTLS is how a client reaches the bus: it presents mat's certificate
// and accepts a server only when the cluster CA signed its certificate, the
// CA's revocation list does not revoke it, and it names a voter.
func ClientTLS(mat *Material, top *Topology) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{mat.Cert},
		RootCAs:      mat.CAs,
		ServerName:   BusServerName,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("bus server sent no certificate")
			}
			id, err := IdentityOf(cs.PeerCertificates[0])
			if err != nil {
				return err
			}
			if !id.Voter() {
				return fmt.Errorf("bus server presents %s, not a member or witness identity", id)
			}
			if top != nil {
				if _, ok := top.Member(id.Name); !ok {
					return fmt.Errorf("bus server presents %s, not a configured member", id)
				}
			}
			if err := mat.Revoked.check(cs.PeerCertificates[0]); err != nil {
				return fmt.Errorf("bus server %s: %w", id.Name, err)
			}
			return nil
		},
	}
}

// logLimiter lets through a burst of lines, then one per interval: a client
// hammering the bus with refused publishes must not flood the journal.
type logLimiter struct {
	mu         sync.Mutex
	every      time.Duration
	next       time.Time
	suppressed int
}

func newLogLimiter(every time.Duration) *logLimiter { return &logLimiter{every: every} }

func (l *logLimiter) allow() bool {
	ok, _ := l.take()
	return ok
}

// take reports whether a line may be logged now and how many were
// suppressed since the last one.
func (l *logLimiter) take() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(l.every)
	n := l.suppressed
	l.suppressed = 0
	return true, n
}
