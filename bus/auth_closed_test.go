package bus

import (
	"crypto/tls"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// closedConn is a connection the server closed while authenticating it:
// no address, no TLS state (as nats-server's client is once closed).
type closedConn struct{}

func (closedConn) GetOpts() *server.ClientOpts                 { return &server.ClientOpts{} }
func (closedConn) GetTLSConnectionState() *tls.ConnectionState { return nil }
func (closedConn) RegisterUser(*server.User)                   {}
func (closedConn) RemoteAddress() net.Addr                     { return nil }
func (closedConn) GetNonce() []byte                            { return nil }
func (closedConn) Kind() int                                   { return server.ROUTER }
func (closedConn) GetID() uint64                               { return 1 }

// A route or client closed during its authentication is refused, and the
// refusal does not crash the host on its missing address (it did: a peer
// hanging up right after CONNECT took the whole member down).
func TestConnectionClosedDuringAuthIsRefused(t *testing.T) {
	a := &authenticator{top: &Topology{}, me: Member{Name: "holly"}, log: slog.New(slog.DiscardHandler), limit: newLogLimiter(time.Second)}
	if (routeAuthenticator{a}).Check(closedConn{}) {
		t.Error("a route closed during authentication was accepted")
	}
	if a.Check(closedConn{}) {
		t.Error("a client closed during authentication was accepted")
	}
}
