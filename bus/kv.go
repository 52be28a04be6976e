package bus

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The KV buckets every cluster has.
const (
	// BucketLeases holds one key per fenced resource (and the coordinator
	// role); values expire by per-key TTL. Memory storage: leases mean
	// nothing after a full cluster restart.
	BucketLeases = "tandem-leases"
	// BucketConfig holds the live configuration, one revision per change,
	// with history for `tandem config history` and rollback.
	BucketConfig = "tandem-config"
	// BucketState holds durable cluster state: fail-counts (StateFailKey),
	// tickets, the coordinator's status (StateStatusKey).
	BucketState = "tandem-state"
)

// StateKeyToken keeps a name usable as one token of a state bucket key:
// every byte but ASCII letters, digits, '-' and '_' becomes '='.
func StateKeyToken(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			b[i] = '='
		}
	}
	return string(b)
}

// StateFailPrefix starts every fail-count key of the state bucket.
const StateFailPrefix = "fail."

// StateFailKey is the state bucket's key of resource's fail-count on node.
// Its last token is the node's: a member's identity may write only its own
// (Permissions).
func StateFailKey(resource, node string) string {
	return StateFailPrefix + StateKeyToken(resource) + "." + StateKeyToken(node)
}

// StateStatusPrefix starts the keys of the coordinators' status.
const StateStatusPrefix = "status."

// StateStatusKey is where node, while it is the coordinator, keeps the
// cluster's status in the state bucket: a key of its own, which no other
// member's identity may write (Permissions).
func StateStatusKey(node string) string { return StateStatusPrefix + StateKeyToken(node) }

// ConfigHistory is how many revisions of the live configuration are kept.
const ConfigHistory = 64

// DefaultWriteTimeout bounds a KV operation, so that a write without quorum
// fails instead of hanging.
const DefaultWriteTimeout = 3 * time.Second

// Buckets names the cluster's buckets: the leases, the live configuration
// and the state.
func Buckets() []string { return []string{BucketLeases, BucketConfig, BucketState} }

// BucketConfigs are the buckets with their settings, for replicas copies.
func BucketConfigs(replicas int) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: BucketLeases, Description: "tandem leases", History: 1, Replicas: replicas,
			Storage: jetstream.MemoryStorage, LimitMarkerTTL: time.Second},
		{Bucket: BucketConfig, Description: "tandem live configuration", History: ConfigHistory, Replicas: replicas,
			Storage: jetstream.FileStorage},
		{Bucket: BucketState, Description: "tandem cluster state", History: 1, Replicas: replicas,
			Storage: jetstream.FileStorage},
	}
}

// EnsureBuckets creates the cluster's buckets if they do not exist yet
// and waits until they all do. Only the JetStream meta leader creates them:
// when every member creates the same replicated streams at once at a cold
// start, the creations stall each other for seconds. A member that has
// waited long (no leader member is creating them, e.g. only one member runs
// this) creates them itself.
//
// Each attempt is bounded by DefaultWriteTimeout, however long ctx runs: a
// request whose answer is lost (a member just restarted, its routes to the
// streams' leaders not all up yet) is asked again instead of waited for
// until ctx ends.
func (s *Server) EnsureBuckets(ctx context.Context, c *Conn) error {
	start := time.Now()
	var last error // the last error that was not an attempt's timeout
	for {
		actx, cancel := context.WithTimeout(ctx, DefaultWriteTimeout)
		missing, err := s.createMissing(actx, c, time.Since(start) > 3*time.Second)
		cancel()
		if err == nil && missing == 0 {
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			last = err
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%d bucket(s) not created yet", missing)
			}
			if last != nil && last != err {
				err = fmt.Errorf("%w (before that: %v)", err, last)
			}
			return fmt.Errorf("KV buckets: %w", c.explain(err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) createMissing(ctx context.Context, c *Conn, anyway bool) (int, error) {
	missing := 0
	for _, cfg := range BucketConfigs(createReplicas(s.voters)) {
		_, err := c.JS.KeyValue(ctx, cfg.Bucket)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return 0, err
		}
		if s.ns.JetStreamIsClustered() && !s.ns.JetStreamIsLeader() && !anyway {
			missing++
			continue
		}
		if _, err := c.JS.CreateStream(ctx, leaderReadStream(cfg)); err != nil {
			return 0, fmt.Errorf("creating %s: %w", cfg.Bucket, err)
		}
	}
	return missing, nil
}

// leaderReadStream is the stream of a KV bucket as jetstream would create
// it, but without direct gets. With them, any replica answers a read, and one
// that lags returns an older value: a coordinator could plan from a
// fail-count that misses the failure just reported. Without them the
// stream's leader answers every read. The lease bucket reads from its leader
// too (on the witness): a direct get can be routed to a replica that was just
// cut off, and a lease's Create reads the key when it exists, so a move
// stalled on reads that never came back.
func leaderReadStream(cfg jetstream.KeyValueConfig) jetstream.StreamConfig {
	var markerTTL time.Duration
	if cfg.LimitMarkerTTL > 0 {
		markerTTL = cfg.LimitMarkerTTL
	}
	return jetstream.StreamConfig{
		AllowMsgTTL:            markerTTL > 0, // per-key TTLs (leases)
		SubjectDeleteMarkerTTL: markerTTL,
		Name:                   StreamOfBucket(cfg.Bucket),
		Description:            cfg.Description,
		Subjects:               []string{"$KV." + cfg.Bucket + ".>"},
		MaxMsgsPerSubject:      int64(max(cfg.History, 1)),
		MaxBytes:               -1,
		MaxMsgSize:             -1,
		MaxMsgs:                -1,
		MaxConsumers:           -1,
		Storage:                cfg.Storage,
		Replicas:               cfg.Replicas,
		AllowRollup:            true,
		DenyDelete:             true,
		Duplicates:             2 * time.Minute,
		AllowDirect:            false,
		Discard:                jetstream.DiscardNew,
	}
}

// KV is a bucket with bounded operations and errors that say what went wrong.
type KV struct {
	kv   jetstream.KeyValue
	conn *Conn
}

// KV opens a bucket.
func (c *Conn) KV(ctx context.Context, bucket string) (*KV, error) {
	kv, err := read(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
		return c.JS.KeyValue(ctx, bucket)
	})
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", bucket, c.explain(err))
	}
	return &KV{kv: kv, conn: c}, nil
}

// Raw is the underlying jetstream bucket, for watches.
func (k *KV) Raw() jetstream.KeyValue { return k.kv }

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultWriteTimeout)
}

// readAttempt bounds one try of a read. Reads go to a stream's leader; one
// sent while leadership moves (the witness takes it over after a restart) is
// dropped without an answer, so a read waits for its own timeout. Trying
// again soon finds the new leader.
const readAttempt = 750 * time.Millisecond

// read runs f, bounded like every bus call, in attempts of readAttempt
// until it succeeds, fails for another reason than a timeout or a
// temporarily unavailable JetStream, or the bound ends.
func read[T any](ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	for {
		actx, cancel := context.WithTimeout(ctx, readAttempt)
		v, err := f(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return v, err
		}
		if unavailable(err) {
			// Answered at once: wait a little before asking again.
			select {
			case <-ctx.Done():
				return v, err
			case <-time.After(unavailablePause):
			}
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) {
			return v, err
		}
	}
}

// jsErrClusterNotAvailable is JetStream's "JetStream system temporarily
// unavailable" (503): a server that has no meta leader at the moment, as
// right after a voter restarts and the leadership moves. The request was
// not acted on, so it is safe to send again.
const jsErrClusterNotAvailable jetstream.ErrorCode = 10008

// unavailablePause is how long a request answered "temporarily
// unavailable" waits before it is sent again.
const unavailablePause = 100 * time.Millisecond

func unavailable(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrClusterNotAvailable
}

// write runs a write, bounded like every bus call, again while JetStream
// answers that it is temporarily unavailable (the write was refused, not
// made). A timeout is not retried: the write may have been made.
func write[T any](ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	for {
		v, err := f(ctx)
		if err == nil || !unavailable(err) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(unavailablePause):
		}
	}
}

// Put stores value under key and returns the new revision.
func (k *KV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := write(ctx, func(ctx context.Context) (uint64, error) { return k.kv.Put(ctx, key, value) })
	if err != nil {
		return 0, fmt.Errorf("writing %s/%s: %w", k.kv.Bucket(), key, k.conn.explain(err))
	}
	return rev, nil
}

// Create stores value under key only if the key does not exist (or was
// deleted), with an optional TTL (0: none).
func (k *KV) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	var opts []jetstream.KVCreateOpt
	if ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(ttl))
	}
	rev, err := write(ctx, func(ctx context.Context) (uint64, error) { return k.kv.Create(ctx, key, value, opts...) })
	if err != nil {
		return 0, fmt.Errorf("creating %s/%s: %w", k.kv.Bucket(), key, k.conn.explain(err))
	}
	return rev, nil
}

// Update stores value under key only if the key is still at revision last
// (compare-and-swap). A lost race returns an error matching ErrConflict.
func (k *KV) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	rev, err := write(ctx, func(ctx context.Context) (uint64, error) { return k.kv.Update(ctx, key, value, last) })
	if err != nil {
		return 0, fmt.Errorf("updating %s/%s at revision %d: %w", k.kv.Bucket(), key, last, k.conn.explain(err))
	}
	return rev, nil
}

// Get reads key. A missing key returns an error matching ErrNotFound.
func (k *KV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := read(ctx, func(ctx context.Context) (jetstream.KeyValueEntry, error) {
		return k.kv.Get(ctx, key)
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", k.kv.Bucket(), key, k.conn.explain(err))
	}
	return e, nil
}

// Delete removes key.
func (k *KV) Delete(ctx context.Context, key string) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	if err := k.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting %s/%s: %w", k.kv.Bucket(), key, k.conn.explain(err))
	}
	return nil
}

// History lists the revisions of key, oldest first.
func (k *KV) History(ctx context.Context, key string) ([]jetstream.KeyValueEntry, error) {
	h, err := read(ctx, func(ctx context.Context) ([]jetstream.KeyValueEntry, error) {
		return k.kv.History(ctx, key)
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s/%s: %w", k.kv.Bucket(), key, k.conn.explain(err))
	}
	return h, nil
}

// Keys lists the bucket's keys (none is not an error).
func (k *KV) Keys(ctx context.Context) ([]string, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	keys, err := k.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", k.kv.Bucket(), k.conn.explain(err))
	}
	return keys, nil
}

// KeysWithPrefix lists the keys that start with prefix (which ends in a
// dot: a whole-token prefix), deleted ones included (a Get then says not
// found). Unlike Keys, which creates a consumer (and so needs the JetStream
// meta leader and a placement), it asks only the stream's leader for the
// subjects it holds, so it answers whenever the bucket can be read.
func (k *KV) KeysWithPrefix(ctx context.Context, prefix string) ([]string, error) {
	bucket := k.kv.Bucket()
	base := "$KV." + bucket + "."
	info, err := read(ctx, func(ctx context.Context) (*jetstream.StreamInfo, error) {
		st, err := k.conn.JS.Stream(ctx, StreamOfBucket(bucket))
		if err != nil {
			return nil, err
		}
		return st.Info(ctx, jetstream.WithSubjectFilter(base+prefix+">"))
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", bucket, k.conn.explain(err))
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		keys = append(keys, strings.TrimPrefix(subj, base))
	}
	sort.Strings(keys)
	return keys, nil
}

// LastSequence is the bucket's stream's last sequence: the revision of
// the bucket's last write, to any key. One stream info request (a few
// hundred bytes), where a Get returns the whole value: a poll that asks
// this first reads a large key again only when something was written.
func (k *KV) LastSequence(ctx context.Context) (uint64, error) {
	bucket := k.kv.Bucket()
	st, err := read(ctx, func(ctx context.Context) (jetstream.Stream, error) {
		return k.conn.JS.Stream(ctx, StreamOfBucket(bucket))
	})
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", bucket, k.conn.explain(err))
	}
	return st.CachedInfo().State.LastSeq, nil
}

// ValuesWithPrefix reads the entries whose keys start with prefix (as for
// KeysWithPrefix), in key order; deleted keys are left out.
func (k *KV) ValuesWithPrefix(ctx context.Context, prefix string) ([]jetstream.KeyValueEntry, error) {
	keys, err := k.KeysWithPrefix(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []jetstream.KeyValueEntry
	for _, key := range keys {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		e, err := k.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Errors callers branch on.
var (
	ErrNotFound = jetstream.ErrKeyNotFound
	ErrConflict = errors.New("revision conflict")
)

// explain turns the errors of an unreachable majority into ErrNoQuorum and
// CAS failures into ErrConflict, keeping the original for the details.
func (c *Conn) explain(err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10164):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return fmt.Errorf("%w: no answer from a majority of the %d voters (%v); check that at least %d are up (tandem status)",
			ErrNoQuorum, c.voters, err, c.voters/2+1)
	}
	return err
}
