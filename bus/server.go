package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Errors a member's start can fail with; the daemon maps them to exit codes.
var (
	ErrUnknownMember = errors.New("unknown member")
	ErrPortInUse     = errors.New("port in use")
	ErrDataDir       = errors.New("data directory not usable")
	ErrNotReady      = errors.New("bus server did not become ready")
)

// RevocationPoll is how often a member looks for a changed revocation
// list (ca.crl).
const RevocationPoll = time.Second

// ServerOptions say which member of which cluster to run.
type ServerOptions struct {
	Topology *Topology
	Member   string // a node name or the witness name
	// Secret is the cluster secret of a single-member development bus
	// without TLS; a TLS bus ignores it.
	Secret Secret
	Logger *slog.Logger
	// ReadyTimeout bounds how long Start waits for the server to listen.
	ReadyTimeout time.Duration
}

// Server is the embedded NATS server of one member.
type Server struct {
	ns *server.Server
	// opts are the server's options, replaced by closeRevokedRoutes.
	optsMu   sync.Mutex
	opts     *server.Options
	stop     chan struct{}
	stopOnce sync.Once
	member   Member
	local    localCredential
	voters   int
	dataDir  string
	log      *slog.Logger
}

// StartServer starts the member's NATS server: client and cluster listeners
// on the member's address, routes to every other voter, JetStream with its
// storage under <data_dir>/<member>. It returns once the server accepts
// connections; quorum comes later (see Conn.WaitQuorum).
func StartServer(o ServerOptions) (*Server, error) {
	top := o.Topology
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := top.CheckQuorum(); err != nil {
		return nil, err
	}
	me, ok := top.Member(o.Member)
	if !ok {
		var names []string
		for _, m := range top.Members {
			names = append(names, m.Name)
		}
		return nil, fmt.Errorf("%w %q: the configuration's members are %v; pass one of them with --node", ErrUnknownMember, o.Member, names)
	}
	if top.DataDir == "" || me.ClientPort == 0 || me.ClusterPort == 0 {
		return nil, fmt.Errorf("bus topology of %s: data directory and ports must be set (host/config applies the defaults)", me.Name)
	}
	dataDir := filepath.Join(top.DataDir, me.Name)
	if !me.NonVoter {
		if err := checkDataDir(dataDir); err != nil {
			return nil, err
		}
	}
	members := top.Members
	multi := len(members) > 1
	for _, p := range []int{me.ClientPort, me.ClusterPort} {
		if p == me.ClusterPort && !multi {
			continue
		}
		if err := checkPortFree(me.Address, p); err != nil {
			return nil, err
		}
	}

	local, err := newLocalCredential()
	if err != nil {
		return nil, fmt.Errorf("bus server: %w", err)
	}
	auth := &authenticator{top: top, me: me, local: local, log: log.With("component", "bus"), limit: newLogLimiter(time.Second)}
	var mat *Material
	if top.UsesTLS() {
		// Mutual TLS: the member's own certificate, the cluster CA.
		if mat, err = top.LoadMaterialFor(me.Name); err != nil {
			return nil, err
		}
		if err := top.checkVoter(mat.Identity, ""); err != nil || mat.Identity.Name != me.Name {
			return nil, fmt.Errorf("%w: the certificate of %s names %s; issue %s's own with `tandem pki issue --role %s %s`",
				ErrNoCredentials, me.Name, mat.Identity, me.Name, roleOf(me), me.Name)
		}
	} else {
		// A single-member development bus without TLS: clients sign in
		// with the nkey of the cluster secret.
		kp, err := o.Secret.clientKey()
		if err != nil {
			return nil, fmt.Errorf("deriving client key: %w", err)
		}
		if auth.clientPub, err = kp.PublicKey(); err != nil {
			return nil, fmt.Errorf("deriving client key: %w", err)
		}
	}
	// The system account, for the member's own in-process connection
	// for JetStream meta operations (leader stepdown).
	sysAcc := server.NewAccount(server.DEFAULT_SYSTEM_ACCOUNT)

	opts := &server.Options{
		ServerName: me.Name,
		Host:       me.Address,
		Port:       me.ClientPort,
		NoSigs:     true,
		MaxPayload: 8 << 20, // a large live configuration fits in one KV value
		// A member that does not vote runs no JetStream: its clients'
		// JetStream requests go over the routes to the voters.
		JetStream:          !me.NonVoter,
		StoreDir:           dataDir,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
		Accounts:           []*server.Account{sysAcc},
		SystemAccount:      server.DEFAULT_SYSTEM_ACCOUNT,
		AlwaysEnableNonce:  true,
		// Quick detection of a dead client or route; the bus is a LAN.
		PingInterval: 2 * time.Second,
		MaxPingsOut:  3,

		CustomClientAuthentication: auth,
		CustomRouterAuthentication: routeAuthenticator{auth},
	}
	if mon := o.Topology.Metrics.Monitor; mon != "" {
		host, port, err := net.SplitHostPort(mon)
		if err != nil {
			return nil, fmt.Errorf("[metrics] nats_monitor %q: %v (write it host:port)", mon, err)
		}
		opts.HTTPHost = host
		if opts.HTTPPort, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("[metrics] nats_monitor %q: port %q is not a number", mon, port)
		}
	}
	// An authorization block (timeout only) tells nats-server that client
	// authentication is configured here. Without one, a server whose only
	// accounts are the global and the system account adds a no-auth user:
	// anonymous clients would get into the global account.
	if err := opts.ProcessConfigString("authorization { timeout: 2 }"); err != nil {
		return nil, fmt.Errorf("bus server options: %w", err)
	}
	seen := newSeenCerts()
	if mat != nil {
		opts.TLSConfig, opts.Cluster.TLSConfig = top.tlsConfigs(mat, me.Name, seen)
		opts.TLSVerify = true
		opts.TLSTimeout = 2
	}
	if multi {
		opts.Cluster.Name = top.Cluster
		opts.Cluster.Host = me.Address
		opts.Cluster.Port = me.ClusterPort
		// Routes to a dead voter are retried for ever, with backoff.
		opts.Cluster.ConnectRetries = -1
		opts.Cluster.ConnectBackoff = true
		opts.Cluster.PingInterval = time.Second
		opts.Cluster.MaxPingsOut = 3
		opts.Cluster.TLSTimeout = 2
		opts.Cluster.PoolSize = routePoolSize(me)
		for _, m := range members {
			if m.Name == me.Name {
				continue
			}
			u := &url.URL{Scheme: "nats-route", Host: net.JoinHostPort(m.Address, strconv.Itoa(m.ClusterPort))}
			opts.Routes = append(opts.Routes, u)
		}
	}

	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus server: %w", err)
	}
	auth.ns = ns
	ns.SetLoggerV2(&natsLogger{log: log.With("component", "bus"), violations: newLogLimiter(time.Second)}, false, false, false)
	go ns.Start()
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if !ns.ReadyForConnections(timeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("%w within %s on %s (see the log above)", ErrNotReady, timeout, net.JoinHostPort(me.Address, strconv.Itoa(me.ClientPort)))
	}
	s := &Server{ns: ns, opts: opts, stop: make(chan struct{}), member: me, local: local, voters: len(top.Voters()), dataDir: dataDir, log: log}
	if mat != nil {
		go s.watchRevocations(mat.Revoked, seen, RevocationPoll, s.stop)
	}
	return s, nil
}

// routePoolSize is the route pool nats-server keeps to each peer
// (Cluster.PoolSize). Between two voters: one route for the cluster's
// account, besides the one nats-server pins to the system account, which
// carries JetStream's Raft traffic apart from a flood of the cluster's
// subjects. (The default pool of 3 spreads accounts over its routes, but
// Tandem has one account, which always takes the same route: the other two
// would only cost TLS handshakes and pings.) A plain member runs no
// JetStream, so no Raft traffic crosses its routes: it keeps no pool (-1),
// one route to each peer, which its peers accept as they accept a server
// older than pools (nats-server's rolling upgrades). That halves the
// routes of all but the voters' pairs, their TLS handshakes at a cold
// start, their pings, and the route list in every server's statistics
// (STATSZ, sent every 10 s to every server).
func routePoolSize(me Member) int {
	if me.NonVoter {
		return -1
	}
	return 1
}

// Member is the member this server runs for.
func (s *Server) Member() Member { return s.member }

// NATS gives the embedded server, for health checks and tests.
func (s *Server) NATS() *server.Server { return s.ns }

// Replicas is how many copies each KV bucket keeps with the voters of this
// member's file (ReplicasFor).
func (s *Server) Replicas() int { return ReplicasFor(s.voters) }

// ReplicasFor says how many copies KV buckets keep with n voters: 5 with
// five or more (every bucket then survives two voter failures, as the meta
// group does), 3 with three or four, 1 in a single-member development
// cluster.
func ReplicasFor(n int) int {
	switch {
	case n >= 5:
		return 5
	case n >= 3:
		return 3
	}
	return 1
}

// createReplicas is how many copies a bucket is created with: at most 3, so
// that a cold start needs only a majority of three voters online; with
// five voters the meta leader grows the buckets to 5 once the five are
// routed (FitBuckets).
func createReplicas(n int) int { return min(ReplicasFor(n), 3) }

// Shutdown stops the server gracefully: JetStream hands over the leadership
// of every Raft group this member leads before the server goes away.
func (s *Server) Shutdown() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("%w: %s: %v; set [bus] data_dir to a directory this user can write", ErrDataDir, dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("%w: %s is not writable: %v; set [bus] data_dir to a directory this user can write", ErrDataDir, dir, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

func checkPortFree(addr string, port int) error {
	hp := net.JoinHostPort(addr, strconv.Itoa(port))
	l, err := net.Listen("tcp", hp)
	if err != nil {
		return fmt.Errorf("%w: cannot listen on %s: %v; stop what uses it or set another port in [bus] / the member's client_port, cluster_port", ErrPortInUse, hp, err)
	}
	l.Close()
	return nil
}

func roleOf(m Member) string {
	if m.Witness {
		return RoleWitness
	}
	return RoleMember
}

// noDedicatedRoute is how nats-server refuses a route pinned to an
// account between a server with a route pool and one without.
const noDedicatedRoute = "Not possible to have a dedicated route for account"

// natsLogger sends the embedded server's log to slog.
// Refused publishes and subscriptions are logged at most once a second
// (with how many were not): a client hammering the bus with them must not
// flood the journal.
type natsLogger struct {
	log        *slog.Logger
	violations *logLimiter
}

// Noticef: the server's notices (its banner, every route and leader
// change) are for debugging the bus; tandem logs what they mean for the
// cluster (bus started, quorum, members joining) itself.
func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, noDedicatedRoute) {
		// A voter asks a plain member for the system account's own
		// route before it learns that the member keeps no pool
		// (routePoolSize); the member refuses it and both go on with the
		// one route, as intended.
		l.log.Debug(msg)
		return
	}
	if strings.Contains(msg, "Violation") {
		ok, n := l.violations.take()
		if !ok {
			return
		}
		if n > 0 {
			msg += fmt.Sprintf(" (%d similar lines suppressed)", n)
		}
	}
	l.log.Error(msg)
}
func (l *natsLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
