package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoQuorum is returned when the bus cannot accept a write because fewer
// than a majority of voters are reachable.
var ErrNoQuorum = errors.New("bus has no quorum")

// ConnectOptions say how to reach the bus.
type ConnectOptions struct {
	Topology *Topology
	// Secret signs in to a single-member development bus without TLS.
	Secret Secret
	// Identity names the certificate a network client presents on a TLS
	// bus (NAME.crt in the PKI directory); default AdminIdentity.
	// Material, when set, is used instead.
	Identity string
	Material *Material
	Name     string  // who is connecting: a member name, or "cli@host"
	Server   *Server // connect in-process to this member's own server
	// ReadOnly, with Server: connect in-process with the permissions of a
	// monitor identity (docs/security.md) instead of the daemon's own,
	// unlimited ones.
	ReadOnly bool
	// URLs overrides the client URLs taken from the topology.
	URLs    []string
	Timeout time.Duration // connect timeout (default 2 s)
	// Logf receives the connection's asynchronous errors (a publish the
	// server refused, a slow consumer), at most about one a second with a
	// count of those left out; default: standard error.
	Logf func(format string, args ...any)
	// RetryForever keeps reconnecting after a disconnect (daemons); the
	// CLI gives up after a few tries instead.
	RetryForever bool
}

// Conn is a connection to the bus: events (core NATS) and KV (JetStream).
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	source   string
	identity Identity
	voters   int
	now      func() time.Time
}

// Connect connects to the bus.
func Connect(o ConnectOptions) (*Conn, error) {
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.Timeout(timeout),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ErrorHandler(asyncErrors(o.Logf)),
	}
	if o.RetryForever {
		opts = append(opts, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	} else {
		opts = append(opts, nats.MaxReconnects(3))
	}
	url := ""
	var id Identity
	if o.Server != nil {
		user := localUser
		id = Identity{Role: roleOf(o.Server.member), Name: o.Server.member.Name}
		if o.ReadOnly {
			user, id = localMonitorUser, Identity{Role: RoleMonitor, Name: o.Server.member.Name}
		}
		opts = append(opts, nats.InProcessServer(o.Server.ns), nats.UserInfo(user, string(o.Server.local)))
	} else {
		urls := o.URLs
		if len(urls) == 0 && o.Topology != nil {
			urls = o.Topology.ClientURLs()
		}
		if len(urls) == 0 {
			return nil, errors.New("no bus address: the configuration lists no members")
		}
		for i, u := range urls {
			if i > 0 {
				url += ","
			}
			url += u
		}
		mat := o.Material
		if mat == nil && o.Topology != nil && o.Topology.UsesTLS() {
			name := o.Identity
			if name == "" {
				name = AdminIdentity
			}
			m, err := o.Topology.LoadMaterialFor(name)
			if err != nil {
				return nil, err
			}
			mat = m
		}
		if mat != nil {
			opts = append(opts, nats.Secure(ClientTLS(mat, o.Topology)))
			id = mat.Identity
		} else {
			kp, err := o.Secret.clientKey()
			if err != nil {
				return nil, fmt.Errorf("deriving client key: %w", err)
			}
			pub, err := kp.PublicKey()
			if err != nil {
				return nil, err
			}
			opts = append(opts, nats.Nkey(pub, kp.Sign))
			id = Identity{Role: RoleAdmin, Name: DevIdentity}
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if why := refusedCredentials(err); why != "" {
			return nil, fmt.Errorf("%w: %s (connecting to %s as %q: %v)", ErrCredentials, why, url, id.Name, err)
		}
		return nil, fmt.Errorf("connecting to the bus (%s): %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	voters := 0
	if o.Topology != nil {
		voters = len(o.Topology.Voters())
	}
	return &Conn{NC: nc, JS: js, source: o.Name, identity: id, voters: voters, now: time.Now}, nil
}

// Identity is who the bus knows this connection as: the identity of its
// certificate, the member of its in-process server, or the admin that
// holds the cluster secret of a development bus.
func (c *Conn) Identity() Identity { return c.identity }

// Source is the name this connection publishes events under.
func (c *Conn) Source() string { return c.source }

// Close drains pending messages and closes the connection.
func (c *Conn) Close() {
	if c.NC.IsClosed() {
		return
	}
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
		return
	}
	// Drain is asynchronous; wait for it, bounded.
	deadline := time.Now().Add(2 * time.Second)
	for !c.NC.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.NC.Close()
}

// Publish sends an event.
func (c *Conn) Publish(ev Event) error {
	data, err := Encode(ev, c.source, c.now())
	if err != nil {
		return err
	}
	return c.NC.Publish(ev.Subject(), data)
}

// Subscribe calls fn for each event of type T on subject (wildcards allowed).
// Messages of another kind or version are skipped, and so is an event that
// came on another subject than its own (ev.Subject()): the server vouches
// only for the subject (a node's identity may publish only its own
// tandem.state.NODE and tandem.action.NODE), so a report on benji's subject
// that names holly is a forgery, not holly's report.
func Subscribe[T Event](c *Conn, subject string, fn func(T, Envelope)) (*nats.Subscription, error) {
	return c.NC.Subscribe(subject, func(m *nats.Msg) {
		ev, env, err := Decode[T](m.Data)
		if err != nil || ev.Subject() != m.Subject {
			return
		}
		fn(ev, env)
	})
}

// WaitQuorum waits until JetStream answers, which needs a meta leader and so
// a majority of voters.
func (c *Conn) WaitQuorum(ctx context.Context) error {
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.JS.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: JetStream did not answer (%v); a majority of the %d voters must be up and connected", ErrNoQuorum, err, c.voters)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// asyncErrors reports a connection's asynchronous errors through logf, at
// most one a second: a client whose publishes the server refuses gets one
// error back per publish, and a flood of them must not become a flood of
// log lines.
func asyncErrors(logf func(format string, args ...any)) nats.ErrHandler {
	if logf == nil {
		logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	limit := newLogLimiter(time.Second)
	return func(_ *nats.Conn, sub *nats.Subscription, err error) {
		ok, left := limit.take()
		if !ok {
			return
		}
		where := ""
		if sub != nil {
			where = " on " + sub.Subject
		}
		if left > 0 {
			logf("bus: %v%s (and %d more errors in the last second)", err, where, left)
		} else {
			logf("bus: %v%s", err, where)
		}
	}
}

// ErrCredentials: the bus refused this client's credentials, or the client
// refused the bus's (a certificate of another cluster's CA, a revoked or
// expired one, a wrong key on a development bus). It is not an outage:
// the members may be up and fine.
var ErrCredentials = errors.New("the bus and this host do not accept each other's credentials")

// refusedCredentials says why err is a credentials refusal, or "" when it
// is something else (nobody listening, a timeout).
func refusedCredentials(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var alert tls.AlertError
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return "the members' certificate is not signed by this host's CA (tls.ca): this host has another cluster's PKI"
	case errors.As(err, &invalid):
		return "a member's certificate is not valid here (" + invalid.Error() + ")"
	case errors.As(err, &host):
		return "a member's certificate does not name the address it was reached at (" + host.Error() + ")"
	case errors.As(err, &alert), strings.Contains(msg, "tls: bad certificate"), strings.Contains(msg, "tls: unknown certificate authority"),
		strings.Contains(msg, "certificate required"):
		return "the member refused this host's certificate (is it issued by the cluster's CA? tandem pki list shows what this host has)"
	case errors.Is(err, nats.ErrAuthorization), strings.Contains(strings.ToLower(msg), "authorization violation"):
		return "the member refused this host's credentials (a wrong cluster key, or an identity the bus does not know)"
	case errors.Is(err, nats.ErrAuthExpired):
		return "this host's credentials have expired"
	case errors.Is(err, nats.ErrAuthRevoked):
		return "this host's credentials were revoked"
	}
	return ""
}
