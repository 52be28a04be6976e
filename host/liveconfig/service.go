package liveconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// The write service: an admin never writes the configuration bucket
// itself (the bus refuses it). It asks a member's daemon on
// bus.SubjectConfigWrite(its identity), the only write subject the bus lets
// it publish on; the member that answers (a queue group: one per request)
// validates the model again, stamps the revision's `by` with the identity
// the subject names, and writes it with the compare-and-swap the request
// asks for. Only the host after the '@' is the client's claim
// (docs/security.md).

// WriteQueue is the queue group of the members' write services.
const WriteQueue = "tandem-config-write"

// MaxHostClaim is the longest host name a write request may claim.
const MaxHostClaim = 253

// writeRequest is what a client asks a member to store.
type writeRequest struct {
	// Reseed stores the model whatever the bucket holds (config reseed,
	// From naming the file); otherwise the write is a compare-and-swap
	// on Base.
	Reseed  bool            `json:"reseed,omitempty"`
	From    string          `json:"from,omitempty"`
	Base    uint64          `json:"base"`
	Summary string          `json:"summary"`
	Host    string          `json:"host"` // the client's claim
	CIB     json.RawMessage `json:"cib"`
}

// writeReply is a member's answer.
type writeReply struct {
	Member   string       `json:"member"`
	Rev      uint64       `json:"rev,omitempty"`
	By       string       `json:"by,omitempty"`
	Time     time.Time    `json:"time"`
	Format   int          `json:"format,omitempty"`
	Conflict bool         `json:"conflict,omitempty"` // Base is not the current revision
	Problems cib.Problems `json:"problems,omitempty"` // the model is not valid
	Error    string       `json:"error,omitempty"`
}

// Serve answers configuration writes on conn, a member's in-process
// connection, as member; open opens the store (retried at the next
// request until it succeeds: the buckets may not exist yet when the daemon
// starts, and a write such as config reseed must be served even when the
// member cannot run any configuration). The function it returns stops
// answering.
func Serve(conn *bus.Conn, member string, log *slog.Logger) (stop func(), err error) {
	var (
		mu    sync.Mutex
		store *Store
	)
	get := func(ctx context.Context) (*Store, error) {
		mu.Lock()
		defer mu.Unlock()
		if store != nil {
			return store, nil
		}
		s, err := Open(ctx, conn)
		if err != nil {
			return nil, err
		}
		store = s
		return s, nil
	}
	sub, err := conn.NC.QueueSubscribe(bus.SubjectConfigWrites, WriteQueue, func(msg *nats.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a := serveWrite(ctx, get, msg.Subject, msg.Data)
		a.Member = member
		if a.Error != "" || a.Problems != nil {
			log.Warn("refused a configuration write", "subject", msg.Subject, "err", a.Error, "problems", len(a.Problems))
		} else if !a.Conflict {
			log.Info("wrote a configuration revision", "rev", a.Rev, "by", a.By)
		}
		if data, err := json.Marshal(a); err == nil {
			_ = msg.Respond(data)
		}
	})
	if err != nil {
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// serveWrite does one write request that came on subject.
func serveWrite(ctx context.Context, store func(context.Context) (*Store, error), subject string, data []byte) writeReply {
	identity, ok := strings.CutPrefix(subject, strings.TrimSuffix(bus.SubjectConfigWrites, "*"))
	if !ok || identity == "" || strings.Contains(identity, ".") {
		return writeReply{Error: fmt.Sprintf("%s is not a configuration write subject", subject)}
	}
	// The limits come before any decoding: the model is at most a
	// stored record's size.
	if len(data) > MaxRecordSize {
		return writeReply{Error: fmt.Sprintf("the write request is %d bytes, larger than the limit of %d bytes (MaxRecordSize)", len(data), MaxRecordSize)}
	}
	var req writeRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return writeReply{Error: fmt.Sprintf("malformed write request: %v", err)}
	}
	if len(req.Host) > MaxHostClaim {
		return writeReply{Error: fmt.Sprintf("the host name claimed is %d bytes, longer than the limit of %d", len(req.Host), MaxHostClaim)}
	}
	for _, t := range [][2]string{{"the host claimed", req.Host}, {"the summary", req.Summary}, {"the file named", req.From}} {
		if err := cib.CheckText(t[0], t[1]); err != nil {
			return writeReply{Error: err.Error()}
		}
	}
	if len(req.CIB) == 0 || string(req.CIB) == "null" {
		return writeReply{Error: "the write request holds no cluster model"}
	}
	var c cib.CIB
	if err := json.Unmarshal(req.CIB, &c); err != nil {
		return writeReply{Error: fmt.Sprintf("the cluster model of the write request: %v", err)}
	}
	if ps := c.Validate(); ps != nil {
		return writeReply{Problems: ps}
	}
	by := identity
	if req.Host != "" {
		by += "@" + req.Host
	}
	s, err := store(ctx)
	if err != nil {
		return writeReply{Error: fmt.Sprintf("opening the live configuration: %v", err)}
	}
	var r Revision
	if req.Reseed {
		r, err = s.reseed(ctx, &c, by, req.From)
	} else {
		r, err = s.put(ctx, &c, req.Base, by, req.Summary)
	}
	var ps cib.Problems
	switch {
	case err == nil:
		return writeReply{Rev: r.Rev, By: r.By, Time: r.Time, Format: r.Format}
	case errors.Is(err, bus.ErrConflict):
		return writeReply{Conflict: true, Error: err.Error()}
	case errors.As(err, &ps):
		return writeReply{Problems: ps}
	}
	return writeReply{Error: err.Error()}
}

// ask sends a write to the members' service and returns the stored
// revision; a conflict matches bus.ErrConflict, an invalid model is a
// cib.Problems.
func (s *Store) ask(ctx context.Context, req writeRequest, c *cib.CIB, summary string) (Revision, error) {
	if ps := c.Validate(); ps != nil {
		return Revision{}, ps
	}
	model, err := json.Marshal(c)
	if err != nil {
		return Revision{}, err
	}
	req.CIB, req.Summary = model, summary
	data, err := json.Marshal(req)
	if err != nil {
		return Revision{}, err
	}
	id := s.conn.Identity()
	if id.Role != bus.RoleAdmin {
		return Revision{}, fmt.Errorf("%w: %s is not an admin identity, and only admin identities may ask for configuration writes "+
			"(connect with the admin certificate: TANDEM_IDENTITY unset or an admin's name)", ErrNoWriter, id)
	}
	subject := bus.SubjectConfigWrite(id.Name)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, WriteTimeout)
		defer cancel()
	}
	start := time.Now()
	msg, err := s.conn.NC.RequestWithContext(ctx, subject, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return Revision{}, fmt.Errorf("%w: no member daemon serves %s: configuration writes are made by a running tandem daemon of this version "+
			"(is `tandem run` up on a member, and upgraded?)", ErrNoWriter, subject)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return Revision{}, fmt.Errorf("%w: no member answered %s within %s: is a tandem daemon running, with quorum?",
			ErrNoWriter, subject, time.Since(start).Round(100*time.Millisecond))
	case err != nil:
		return Revision{}, fmt.Errorf("asking a member to write the live configuration on %s: %w", subject, err)
	}
	var a writeReply
	if err := json.Unmarshal(msg.Data, &a); err != nil {
		return Revision{}, fmt.Errorf("the answer on %s: %w", subject, err)
	}
	switch {
	case a.Conflict:
		return Revision{}, fmt.Errorf("%s: %w", a.Member, bus.ErrConflict)
	case a.Problems != nil:
		return Revision{}, a.Problems
	case a.Error != "":
		return Revision{}, fmt.Errorf("member %s refused the write: %s", a.Member, a.Error)
	}
	return Revision{Rev: a.Rev, Time: a.Time, By: a.By, Summary: summary, Format: a.Format, CIB: c}, nil
}

// WriteTimeout bounds a write request without a deadline of its own.
const WriteTimeout = 5 * time.Second

// ErrNoWriter means no member's daemon answered a write request.
var ErrNoWriter = errors.New("the live configuration was not written")

// hostOf is the host part of by ("admin@holly" is holly).
func hostOf(by string) string {
	if i := strings.LastIndexByte(by, '@'); i >= 0 {
		return by[i+1:]
	}
	return ""
}
