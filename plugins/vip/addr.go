package vip

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The kernel side of a VIP: IPv4 and IPv6 addresses read and written over
// rtnetlink.
// netlink.Addr has no field for the address protocol (IFA_PROTO), which is
// how we mark our addresses, so addresses are added, listed and removed
// with messages built by netlink's nl package; links and routes are read
// with netlink itself (resolve.go).

const (
	// ifaProto is IFA_PROTO (Linux 6.3+): a byte user space may set on an
	// address to say who added it; the kernel keeps and reports it. Not in
	// x/sys/unix yet.
	ifaProto = 11
	// OwnerProto is the IFA_PROTO value on every address this agent adds
	// (`ip -d addr` shows it as "proto 0x74", 't' for tandem). Values 0-3
	// belong to the kernel (IFAPROT_*). Kernels before 6.3 drop the
	// attribute silently; the state file then says the address is ours.
	OwnerProto = 0x74
)

// kernelAddr is one address as the kernel reports it.
type kernelAddr struct {
	IP        netip.Addr
	Prefix    int
	LinkIndex int
	Label     string
	Proto     uint8
	Flags     uint32 // IFA_F_*: nodad, tentative, dadfailed, permanent...
	// Valid and Preferred are the seconds the kernel still keeps the
	// address and prefers it (IFA_CACHEINFO); foreverLifetime for a
	// permanent address.
	Valid, Preferred uint32
}

func (a kernelAddr) String() string {
	return fmt.Sprintf("%s/%d", a.IP, a.Prefix)
}

// listAddrs returns every IPv4 and IPv6 address in the current network
// namespace.
func listAddrs() ([]kernelAddr, error) {
	var last error
	// A dump interrupted by a concurrent change is retried: a monitor must
	// not say "not running" from a partial list.
	for range 5 {
		req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
		msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
		if errors.Is(err, nl.ErrDumpInterrupted) {
			last = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
		out := make([]kernelAddr, 0, len(msgs))
		for _, m := range msgs {
			a, ok, err := parseAddrMsg(m)
			if err != nil {
				return nil, fmt.Errorf("list addresses: %w", err)
			}
			if ok {
				out = append(out, a)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("list addresses: %w", last)
}

func parseAddrMsg(m []byte) (kernelAddr, bool, error) {
	msg := nl.DeserializeIfAddrmsg(m)
	if msg.Family != unix.AF_INET && msg.Family != unix.AF_INET6 {
		return kernelAddr{}, false, nil
	}
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return kernelAddr{}, false, err
	}
	a := kernelAddr{Prefix: int(msg.Prefixlen), LinkIndex: int(msg.Index), Flags: uint32(msg.Flags)}
	var local, address netip.Addr
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_LABEL:
			a.Label = string(trimNul(at.Value))
		case ifaProto:
			if len(at.Value) > 0 {
				a.Proto = at.Value[0]
			}
		case unix.IFA_FLAGS:
			// The whole 32 bits; the header has only the low 8.
			if len(at.Value) == 4 {
				a.Flags = nl.NativeEndian().Uint32(at.Value)
			}
		case unix.IFA_CACHEINFO:
			if len(at.Value) >= 8 {
				a.Preferred = nl.NativeEndian().Uint32(at.Value[0:4])
				a.Valid = nl.NativeEndian().Uint32(at.Value[4:8])
			}
		}
	}
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
	// point-to-point links and equal to it elsewhere.
	a.IP = local
	if !a.IP.IsValid() {
		a.IP = address
	}
	a.IP = a.IP.Unmap()
	return a, a.IP.IsValid(), nil
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// errAddrExists is returned by addAddr when the address is already on the
// interface.
var errAddrExists = errors.New("address already exists")

// family is the address family of ip for netlink.
func family(ip netip.Addr) int {
	if ip.Is6() {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// foreverLifetime is the kernel's "no lifetime" (INFINITY_LIFE_TIME): the
// address stays until removed (IFA_F_PERMANENT).
const foreverLifetime = 0xFFFFFFFF

// addAddr adds ip/prefix to the interface, marked with OwnerProto. It fails
// with errAddrExists rather than touch an address that is already there.
// An IPv6 address is added without Duplicate Address Detection (nodad):
// usable at once, as an IPv4 address is, instead of tentative for a second
// or more; the monitor's probe finds a conflict instead.
//
// lifetime is how many seconds the kernel keeps the address by itself
// (valid_lft and preferred_lft); 0 adds it for good. The kernel removes an
// address whose lifetime ran out even when every process of the machine is
// stopped: what bounds a frozen node's hold on the VIP.
func addAddr(linkIndex int, ip netip.Addr, prefix int, label string, lifetime uint32) error {
	err := writeAddr(unix.NLM_F_CREATE|unix.NLM_F_EXCL, linkIndex, ip, prefix, label, lifetime)
	if errors.Is(err, unix.EEXIST) {
		return errAddrExists
	}
	if err != nil {
		return fmt.Errorf("add %s/%d: %w", ip, prefix, err)
	}
	return nil
}

// setLifetime restarts the kernel's count for an address of ours: lifetime
// seconds from now (0: for good). The request carries everything addAddr
// set, because a replace also resets the address's protocol and, for IPv6,
// its flags. The kernel adds the address if it is not there, whatever the
// flags say: callers check that it is ours and present first, under the
// agent's lock.
func setLifetime(a kernelAddr, lifetime uint32) error {
	if err := writeAddr(unix.NLM_F_REPLACE, a.LinkIndex, a.IP, a.Prefix, a.Label, lifetime); err != nil {
		return fmt.Errorf("set the lifetime of %s to %ds: %w", a, lifetime, err)
	}
	return nil
}

// writeAddr sends one RTM_NEWADDR for ip/prefix, marked OwnerProto.
func writeAddr(flags int, linkIndex int, ip netip.Addr, prefix int, label string, lifetime uint32) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, flags|unix.NLM_F_ACK)
	msg := nl.NewIfAddrmsg(family(ip))
	msg.Prefixlen = uint8(prefix)
	msg.Index = uint32(linkIndex)
	msg.Scope = unix.RT_SCOPE_UNIVERSE
	b := ip.AsSlice()
	if ip.Is6() {
		msg.Flags = unix.IFA_F_NODAD
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, b))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, b))
	if ip.Is6() {
		flags := make([]byte, 4)
		nl.NativeEndian().PutUint32(flags, unix.IFA_F_NODAD)
		req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, flags))
	} else if prefix < 31 {
		brd := broadcast(netip.PrefixFrom(ip, prefix)).As4()
		req.AddData(nl.NewRtAttr(unix.IFA_BROADCAST, brd[:]))
	}
	if label != "" && ip.Is4() {
		req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(label)))
	}
	if lifetime == 0 {
		lifetime = foreverLifetime
	}
	// struct ifa_cacheinfo: preferred, valid (seconds), then two
	// timestamps the kernel ignores on input.
	ci := make([]byte, 16)
	nl.NativeEndian().PutUint32(ci[0:4], lifetime)
	nl.NativeEndian().PutUint32(ci[4:8], lifetime)
	req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci))
	req.AddData(nl.NewRtAttr(ifaProto, []byte{OwnerProto}))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// delAddr removes ip/prefix from the interface; an address already gone
// is not an error.
func delAddr(linkIndex int, ip netip.Addr, prefix int) error {
	req := nl.NewNetlinkRequest(unix.RTM_DELADDR, unix.NLM_F_ACK)
	msg := nl.NewIfAddrmsg(family(ip))
	msg.Prefixlen = uint8(prefix)
	msg.Index = uint32(linkIndex)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip.AsSlice()))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s/%d: %w", ip, prefix, err)
	}
	return nil
}
