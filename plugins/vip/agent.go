// Package vip is the agent of floating IPv4 and IPv6 addresses (Pacemaker's
// IPaddr2): start adds the address to an interface with netlink and
// announces it (gratuitous ARP for IPv4, unsolicited neighbour
// advertisements for IPv6), stop removes it, monitor checks that it is
// there and that no other host answers for it. It is a fenced agent:
// Hold gives the address a deadline kept inside the plugin process, so that
// a frozen host daemon cannot keep the address past its lease.
//
// Addresses this agent adds carry IFA_PROTO OwnerProto and a record under
// the state directory; stop, hold expiry and monitor treat an address
// without either mark as someone else's and never remove it.
package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Name is the plugin's name and its only agent type: agent = "vip".
const Name = "vip"

// Version is the agent's own version, reported in Info and MetaData.
const Version = "1.0.0"

// conflictWait is how long a monitor listens for another host answering
// its ARP probe. Hosts on one segment answer within a millisecond; the
// margin covers a loaded machine without making monitors slow.
const conflictWait = 200 * time.Millisecond

var (
	_ sdk.Agent  = (*Agent)(nil)
	_ sdk.Holder = (*Agent)(nil)
)

// Options configure an Agent.
type Options struct {
	// StateDir holds the ownership records; "" keeps none (IFA_PROTO alone
	// marks our addresses then).
	StateDir string
	// Netns is the network namespace to work in; a value <= 0 means the
	// process's own. Tests use it to drive a namespace in-process; the
	// plugin binary runs inside the node's namespace and leaves it unset.
	Netns netns.NsHandle
	// Logger receives what happens without a caller to report to (hold
	// expiry, background ARP failures). Default: slog's default logger,
	// which sdk.Serve points at stderr for the host to re-level.
	Logger *slog.Logger
}

// Agent manages the VIP resources of one node. All methods are safe for
// concurrent use.
type Agent struct {
	stateDir string
	ns       netns.NsHandle
	logger   *slog.Logger

	// mu serialises every change to addresses and hold state: Start, Stop,
	// Hold and a hold's expiry never interleave, so an expiry cannot remove
	// an address a concurrent Start is adding, and a Start cannot add one
	// after the hold it checked has expired.
	mu  sync.Mutex
	res map[string]*resource
}

// resource is what the agent keeps of one resource id between calls.
type resource struct {
	id string
	// holdUntil is the CLOCK_MONOTONIC deadline of the last Hold; 0 when no
	// hold is armed. It stays after the deadline passes, so that a Start
	// without a newer Hold is refused.
	holdUntil  time.Duration
	holdTimer  *time.Timer
	holdParams map[string]string
	expiredAt  time.Duration // when a hold last removed the address
	expiredMsg string
	// gen changes whenever the address is added or removed; a background
	// ARP sender from an older generation stops instead of announcing an
	// address that is gone.
	gen     uint64
	stopARP context.CancelFunc
}

// NewWith returns an agent configured by o.
func NewWith(o Options) *Agent {
	ns := o.Netns
	if ns <= 0 {
		ns = netns.None()
	}
	return &Agent{stateDir: o.StateDir, ns: ns, logger: o.Logger, res: map[string]*resource{}}
}

// log is the agent's logger; the default one is looked up at each use
// because sdk.Serve sets it after New.
func (a *Agent) log() *slog.Logger {
	if a.logger != nil {
		return a.logger
	}
	return slog.Default()
}

// inNetns runs fn on a thread inside the agent's namespace. Netlink and
// packet sockets belong to the namespace of the thread that opens them;
// once open they can be used from anywhere.
func (a *Agent) inNetns(fn func() error) error {
	if !a.ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("read the thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(a.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		err = fn()
		// The thread goes back to the scheduler only once it is back in
		// its namespace; if that fails it stays locked and ends with this
		// goroutine. Ending threads is avoided otherwise: a child whose
		// parent-death signal is tied to that thread would get it.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func (a *Agent) resource(id string) *resource {
	r := a.res[id]
	if r == nil {
		r = &resource{id: id}
		a.res[id] = r
	}
	return r
}

// Info describes the plugin.
func (a *Agent) Info() sdk.Info {
	return sdk.Info{Name: Name, Types: []string{Name}, Version: Version, APIVersions: sdk.APIVersions}
}

func checkType(agentType string) error {
	if agentType != "" && agentType != Name {
		return fmt.Errorf("agent type %q: the vip plugin has one agent, write agent = \"vip\"", agentType)
	}
	return nil
}

// MetaData documents the vip agent.
func (a *Agent) MetaData(agentType string) (sdk.MetaData, error) {
	if err := checkType(agentType); err != nil {
		return sdk.MetaData{}, err
	}
	return sdk.MetaData{
		Type:      Name,
		Version:   Version,
		ShortDesc: "Floating IPv4 or IPv6 address (like ocf:heartbeat:IPaddr2)",
		LongDesc: "Adds an address to a network interface with netlink (IPv6 ones without Duplicate Address Detection, so " +
			"they are usable at once) and announces it, so that neighbours send its traffic to this node: gratuitous ARP " +
			"(request and reply forms) for IPv4, unsolicited neighbour advertisements (Override set, to all nodes) for IPv6. " +
			"Stop removes it. Monitor checks that the address is here, that its interface is up, and probes the segment " +
			"(ARP probe, or a Duplicate Address Detection neighbour solicitation): another host answering for the address " +
			"is reported as an address conflict naming its MAC. The addresses it adds are marked (IFA_PROTO 0x74, and a " +
			"record in " + DefaultStateDir + "); an address without the mark is never removed. As a fenced agent it takes " +
			"holds: the address is removed by the plugin itself when the host stops renewing the hold.",
		Params: paramSpecs,
		Actions: []sdk.ActionSpec{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "validate", Timeout: 20 * time.Second},
			{Name: "hold", Timeout: 5 * time.Second},
		},
	}, nil
}

// Validate checks the params, and that this node can place the address:
// the interface exists, and nic and cidr_netmask can be inferred when they
// are not given.
func (a *Agent) Validate(ctx context.Context, req sdk.ValidateRequest) sdk.Result {
	if err := checkType(req.AgentType); err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	p, err := ParseParams(req.Params)
	if err != nil {
		return paramsResult(err)
	}
	var t target
	err = a.inNetns(func() error {
		var err error
		t, err = resolve(p)
		return err
	})
	if err != nil {
		return errResult(err)
	}
	return sdk.Resultf(sdk.OK, "%s/%d on %s", t.IP, t.Prefix, t.NIC)
}

func paramsResult(err error) sdk.Result {
	return sdk.Result{Code: sdk.ErrNotConfigured, Message: strings.ReplaceAll(err.Error(), "\n", "; ")}
}

func errResult(err error) sdk.Result {
	var ce configError
	switch {
	case errors.As(err, &ce):
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return sdk.Result{Code: sdk.ErrPerm, Message: err.Error() + " (the vip plugin needs CAP_NET_ADMIN and CAP_NET_RAW)"}
	}
	return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
}

// owned says whether k was added by this agent: the kernel kept our
// IFA_PROTO, or our record names this very address.
func owned(k kernelAddr, nic string, rec *ownerRecord) bool {
	if k.Proto == OwnerProto {
		return true
	}
	return rec != nil && rec.IP == k.IP.String() && rec.Prefix == k.Prefix && rec.NIC == nic
}

// placed is one address equal to the VIP found on this node.
type placed struct {
	kernelAddr
	NIC   string
	Owned bool
}

func (p placed) where() string { return fmt.Sprintf("%s on %s", p.kernelAddr, p.NIC) }

// findAddr lists where ip is configured on this node, and whether we own
// each copy. Call inside the namespace.
func (a *Agent) findAddr(ip netip.Addr) ([]placed, error) {
	addrs, err := listAddrs()
	if err != nil {
		return nil, err
	}
	rec, err := a.readRecord(ip)
	if err != nil {
		return nil, err
	}
	var out []placed
	for _, k := range addrs {
		if k.IP != ip {
			continue
		}
		nic := fmt.Sprintf("interface %d", k.LinkIndex)
		if l, err := netlink.LinkByIndex(k.LinkIndex); err == nil {
			nic = l.Attrs().Name
		}
		out = append(out, placed{kernelAddr: k, NIC: nic, Owned: owned(k, nic, rec)})
	}
	return out, nil
}

// removeOurs removes every copy of ip this agent added and the record,
// and says what it did. Call inside the namespace, with a.mu held.
func (a *Agent) removeOurs(ip netip.Addr) (removed, foreign []string, err error) {
	found, err := a.findAddr(ip)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range found {
		if !p.Owned {
			foreign = append(foreign, p.where())
			continue
		}
		if err := delAddr(p.LinkIndex, p.IP, p.Prefix); err != nil {
			return removed, foreign, err
		}
		removed = append(removed, p.where())
	}
	return removed, foreign, a.removeRecord(ip)
}

func resourceKey(id string, ip netip.Addr) string {
	if id != "" {
		return id
	}
	return ip.String()
}

// Start adds the address (once: a second start keeps it) and announces it:
// gratuitous ARP for IPv4, unsolicited neighbour advertisements for IPv6.
// It refuses while the resource's hold has expired: the host must send a
// new Hold first.
func (a *Agent) Start(ctx context.Context, req sdk.Request) sdk.Result {
	p, err := ParseParams(req.Params)
	if err != nil {
		return paramsResult(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.resource(resourceKey(req.ResourceID, p.IP))
	if r.holdUntil != 0 {
		if now := sdk.MonotonicNow(); now >= r.holdUntil {
			return sdk.Resultf(sdk.ErrGeneric, "refusing to start %s: its hold ended %s ago; the host must renew the lease and extend the hold before starting",
				p.IP, (now - r.holdUntil).Round(time.Millisecond))
		}
	}

	var (
		t    target
		sock announcer
		what string
	)
	err = a.inNetns(func() error {
		var err error
		if t, err = resolve(p); err != nil {
			return err
		}
		if !t.Up {
			return fmt.Errorf("%s %s is down (administratively): bring it up before starting %s", ParamNIC, t.NIC, p.IP)
		}
		found, err := a.findAddr(p.IP)
		if err != nil {
			return err
		}
		lifetime := kernelLifetime(r.holdUntil, sdk.MonotonicNow())
		have := false
		for _, f := range found {
			switch {
			case !f.Owned:
				return fmt.Errorf("%s is already configured (%s) and was not added by tandem; refusing to take it over: remove it (ip addr del %s dev %s) or choose another ip",
					p.IP, f.where(), f.kernelAddr, f.NIC)
			case f.LinkIndex == t.LinkIndex && f.Prefix == t.Prefix:
				have = true
				if err := setLifetime(f.kernelAddr, lifetime); err != nil {
					return err
				}
			default:
				// Ours but placed by older params: move it.
				if err := delAddr(f.LinkIndex, f.IP, f.Prefix); err != nil {
					return err
				}
			}
		}
		if have {
			what = fmt.Sprintf("%s/%d already on %s", t.IP, t.Prefix, t.NIC)
		} else {
			if err := a.writeRecord(ownerRecord{Resource: req.ResourceID, IP: t.IP.String(), Prefix: t.Prefix, NIC: t.NIC, Added: time.Now().UTC()}); err != nil {
				return err
			}
			if err := addAddr(t.LinkIndex, t.IP, t.Prefix, t.Label, lifetime); err != nil {
				_ = a.removeRecord(t.IP)
				switch {
				case errors.Is(err, errAddrExists):
					return fmt.Errorf("%s/%d appeared on %s while starting (another agent?): %w", t.IP, t.Prefix, t.NIC, err)
				case t.IP.Is6() && errors.Is(err, unix.EACCES):
					// The kernel's answer when IPv6 is off on the link.
					return notConfigured("%w: IPv6 is disabled on %s (net.ipv6.conf.%s.disable_ipv6 = 1): enable it, or float an IPv4 address", err, t.NIC, t.NIC)
				}
				return err
			}
			what = fmt.Sprintf("added %s/%d to %s", t.IP, t.Prefix, t.NIC)
		}
		if t.MAC == nil || p.ARPCount == 0 {
			return nil
		}
		// The first announcement goes out before start returns: a start
		// that succeeded has told the segment. Failing to tell it (no
		// CAP_NET_RAW, link gone) undoes the start rather than leave an
		// address nobody will route to.
		s, err := openAnnouncer(t.IP, t.LinkIndex, t.MAC, false)
		if err == nil {
			err = s.announce(t.IP)
			if err != nil {
				s.Close()
			}
		}
		if err != nil {
			if !have {
				_ = delAddr(t.LinkIndex, t.IP, t.Prefix)
				_ = a.removeRecord(t.IP)
			}
			return fmt.Errorf("%s for %s on %s: %w", announcement(t.IP), t.IP, t.NIC, err)
		}
		sock = s
		return nil
	})
	if err != nil {
		return errResult(err)
	}
	r.gen++
	if r.stopARP != nil {
		r.stopARP()
		r.stopARP = nil
	}
	if sock == nil {
		return sdk.Resultf(sdk.OK, "%s (no %s: %s)", what, announcement(t.IP), noARPWhy(t, p))
	}
	a.announceLaterLocked(r, sock, t.IP, p)
	return sdk.Resultf(sdk.OK, "%s; %s %d× every %s from %s", what, announcement(t.IP), p.ARPCount, p.ARPInterval, t.MAC)
}

// announceLaterLocked sends the rest of an announcement burst (the first
// went out on sock already) in the background: arp_count-1 more, every
// arp_interval, in place of any burst still going. It owns sock. Called
// with a.mu held.
func (a *Agent) announceLaterLocked(r *resource, sock announcer, ip netip.Addr, p Params) {
	if r.stopARP != nil {
		r.stopARP()
		r.stopARP = nil
	}
	if p.ARPCount <= 1 {
		sock.Close()
		return
	}
	actx, cancel := context.WithCancel(context.Background())
	r.stopARP = cancel
	go a.announceRest(actx, r, r.gen, sock, ip, p.ARPCount-1, p.ARPInterval)
}

func noARPWhy(t target, p Params) string {
	if p.ARPCount == 0 {
		return ParamARPCount + " is 0"
	}
	return t.NIC + " has no Ethernet address"
}

// announceRest sends the remaining announcements of a start (gratuitous
// ARPs, or unsolicited neighbour advertisements). Each one is sent under
// a.mu after checking the generation, so none goes out for an address that
// Stop or a hold expiry has removed meanwhile.
func (a *Agent) announceRest(ctx context.Context, r *resource, gen uint64, s announcer, ip netip.Addr, n int, every time.Duration) {
	defer s.Close()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for range n {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		a.mu.Lock()
		if r.gen != gen {
			a.mu.Unlock()
			return
		}
		err := s.announce(ip)
		a.mu.Unlock()
		if err != nil {
			a.log().Warn(announcement(ip)+" failed", "resource", r.id, "ip", ip.String(), "error", err)
			return
		}
	}
}

// Stop removes the address if this agent added it. An address that is
// already gone is success; one that someone else configured is left in
// place (and said so).
func (a *Agent) Stop(ctx context.Context, req sdk.Request) sdk.Result {
	p, err := ParseParams(req.Params)
	if err != nil && !p.IP.IsValid() {
		return paramsResult(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.resource(resourceKey(req.ResourceID, p.IP))
	r.gen++
	if r.stopARP != nil {
		r.stopARP()
		r.stopARP = nil
	}
	var removed, foreign []string
	err = a.inNetns(func() error {
		var err error
		removed, foreign, err = a.removeOurs(p.IP)
		return err
	})
	if err != nil {
		return errResult(err)
	}
	return sdk.Result{Code: sdk.OK, Message: describeRemoval(p.IP, removed, foreign)}
}

func describeRemoval(ip netip.Addr, removed, foreign []string) string {
	var parts []string
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, ", "))
	}
	if len(foreign) > 0 {
		parts = append(parts, "left "+strings.Join(foreign, ", ")+" in place: not added by tandem")
	}
	if len(parts) == 0 {
		return ip.String() + " was not configured"
	}
	return strings.Join(parts, "; ")
}

// Monitor reports running when our address is configured on an interface
// that is up and no other host answers for it (ARP for IPv4, neighbour
// discovery for IPv6).
func (a *Agent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	p, err := ParseParams(req.Params)
	if err != nil {
		return paramsResult(err)
	}
	a.mu.Lock()
	r := a.resource(resourceKey(req.ResourceID, p.IP))
	gen := r.gen
	var (
		ours  *placed
		other []string
		oper  netlink.LinkOperState
		adm   bool
		mac   net.HardwareAddr
		sock  announcer
	)
	err = a.inNetns(func() error {
		found, err := a.findAddr(p.IP)
		if err != nil {
			return err
		}
		for i := range found {
			if found[i].Owned && ours == nil {
				ours = &found[i]
			} else if !found[i].Owned {
				other = append(other, found[i].where())
			}
		}
		if ours == nil {
			return nil
		}
		l, err := netlink.LinkByIndex(ours.LinkIndex)
		if err != nil {
			return fmt.Errorf("look up %s: %w", ours.NIC, err)
		}
		oper, adm = l.Attrs().OperState, l.Attrs().Flags&net.FlagUp != 0
		if hw := l.Attrs().HardwareAddr; len(hw) == 6 && l.Attrs().EncapType == "ether" {
			mac = hw
		}
		if mac == nil || !adm {
			return nil
		}
		if sock, err = openAnnouncer(p.IP, ours.LinkIndex, mac, true); err != nil {
			return err
		}
		if p.ARPRefresh {
			if err := sock.announce(p.IP); err != nil {
				a.log().Warn(announcement(p.IP)+" refresh failed", "resource", r.id, "ip", p.IP.String(), "error", err)
			}
		}
		return nil
	})
	expired, expiredMsg := r.expiredAt, r.expiredMsg
	a.mu.Unlock()
	if err != nil {
		return errResult(err)
	}
	if ours == nil {
		if len(other) > 0 {
			return sdk.Resultf(sdk.ErrGeneric, "%s is configured (%s) but not by tandem: the cluster will neither use nor remove it; remove it by hand or choose another ip",
				p.IP, strings.Join(other, ", "))
		}
		msg := p.IP.String() + " is not configured on this node"
		if expired != 0 {
			msg += fmt.Sprintf(" (%s %s ago)", expiredMsg, (sdk.MonotonicNow() - expired).Round(time.Millisecond))
		}
		return sdk.Result{Code: sdk.NotRunning, Message: msg}
	}
	if !adm || oper == netlink.OperDown || oper == netlink.OperLowerLayerDown || oper == netlink.OperNotPresent {
		if sock != nil {
			sock.Close()
		}
		return sdk.Resultf(sdk.ErrGeneric, "%s: %s is %s", ours.where(), ours.NIC, linkState(adm, oper))
	}
	if sock == nil {
		return sdk.Resultf(sdk.OK, "%s (no %s on this link)", ours.where(), discovery(p.IP))
	}
	defer sock.Close()
	deadline := time.Now().Add(conflictWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	other2, err := sock.findClaim(p.IP, deadline)
	if err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "%s: %s: %v", ours.where(), probeName(p.IP), err)
	}
	if other2 != nil {
		conflict := fmt.Sprintf("address conflict: %s is also answered for by %s on the segment of %s (ours is %s)", p.IP, other2, ours.NIC, mac)
		if !a.held(r) {
			return sdk.Result{Code: sdk.ErrGeneric, Message: conflict}
		}
		// This node holds the VIP's lease, so the other host is the one in
		// the wrong: typically a frozen node whose kernel still answers
		// until the address's lifetime runs out. Failing here would move
		// the VIP away from the only node allowed to have it, and a few
		// failures would ban it from the healthy node. Tell the segment
		// again instead, and let the admin see it.
		if p.ARPCount == 0 {
			return sdk.Resultf(sdk.Degraded, "%s; kept it: this node holds its lease (not re-announced: %s is 0)", conflict, ParamARPCount)
		}
		if err := a.reannounce(r, gen, p, ours.LinkIndex, mac); err != nil {
			return sdk.Resultf(sdk.Degraded, "%s; kept it: this node holds its lease (re-announcing failed: %v)", conflict, err)
		}
		return sdk.Resultf(sdk.Degraded, "%s; kept it: this node holds its lease, %s sent again (%d× every %s)",
			conflict, announcement(p.IP), p.ARPCount, p.ARPInterval)
	}
	return sdk.Resultf(sdk.OK, "%s%s", ours.where(), a.holdNote(r))
}

// held says whether the resource is under a hold that has not run out:
// the host holds its lease.
func (a *Agent) held(r *resource) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return r.holdUntil != 0 && sdk.MonotonicNow() < r.holdUntil
}

// reannounce announces ip again as a start does: once now, the rest of
// arp_count in the background. Nothing is sent if the address was added,
// removed or expired since the monitor found it (gen moved on).
func (a *Agent) reannounce(r *resource, gen uint64, p Params, linkIndex int, mac net.HardwareAddr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.gen != gen {
		return nil
	}
	var sock announcer
	err := a.inNetns(func() error {
		var err error
		if sock, err = openAnnouncer(p.IP, linkIndex, mac, false); err != nil {
			return err
		}
		return sock.announce(p.IP)
	})
	if err != nil {
		if sock != nil {
			sock.Close()
		}
		return fmt.Errorf("%s for %s: %w", announcement(p.IP), p.IP, err)
	}
	a.announceLaterLocked(r, sock, p.IP, p)
	return nil
}

func linkState(adm bool, oper netlink.LinkOperState) string {
	if !adm {
		return "administratively down"
	}
	return "operationally " + oper.String() + " (no carrier?)"
}

func (a *Agent) holdNote(r *resource) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.holdUntil == 0 {
		return ""
	}
	return fmt.Sprintf(" (held for %s more)", (r.holdUntil - sdk.MonotonicNow()).Round(time.Millisecond))
}
