package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Parameter names, defaults and limits. MetaData documents each one.
const (
	ParamIP          = "ip"
	ParamNetmask     = "cidr_netmask"
	ParamNIC         = "nic"
	ParamARPCount    = "arp_count"
	ParamARPInterval = "arp_interval"
	ParamARPRefresh  = "arp_refresh"
	ParamLabel       = "label"

	DefaultARPCount    = 5
	DefaultARPInterval = 200 * time.Millisecond

	maxARPCount    = 100
	maxARPInterval = 10 * time.Second
	// ifNameMax is IFNAMSIZ-1: the longest interface name, and also the
	// longest IPv4 address label the kernel keeps.
	ifNameMax = 15
)

var knownParams = []string{ParamIP, ParamNetmask, ParamNIC, ParamARPCount, ParamARPInterval, ParamARPRefresh, ParamLabel}

// Params are a VIP resource's parameters, parsed. Prefix 0 and NIC ""
// mean "take them from the connected route that covers IP".
type Params struct {
	IP          netip.Addr
	Prefix      int
	NIC         string
	ARPCount    int
	ARPInterval time.Duration
	ARPRefresh  bool
	Label       string
}

// ParseParams checks params without looking at the system: every problem
// is reported, each naming its parameter.
func ParseParams(params map[string]string) (Params, error) {
	p := Params{ARPCount: DefaultARPCount, ARPInterval: DefaultARPInterval}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %q: %s", name, params[name], fmt.Sprintf(format, args...)))
	}

	var unknown []string
	for k := range params {
		if !slices.Contains(knownParams, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		errs = append(errs, fmt.Errorf("unknown parameter %s (the vip agent takes %s)",
			strings.Join(unknown, ", "), strings.Join(knownParams, ", ")))
	}

	if s, ok := params[ParamIP]; !ok || strings.TrimSpace(s) == "" {
		errs = append(errs, fmt.Errorf("%s is required: the IPv4 address to float, e.g. ip = \"198.51.100.23\"", ParamIP))
	} else if ip, err := netip.ParseAddr(strings.TrimSpace(s)); err != nil {
		bad(ParamIP, "not an IP address")
	} else {
		ip = ip.Unmap()
		switch {
		case !ip.Is4():
			bad(ParamIP, "is IPv6; the vip agent manages IPv4 addresses (it announces them with ARP)")
		case ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast(), ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			bad(ParamIP, "is not a unicast host address")
		default:
			p.IP = ip
		}
	}

	if s := strings.TrimSpace(params[ParamNetmask]); s != "" {
		if n, err := parseNetmask(s); err != nil {
			bad(ParamNetmask, "%v", err)
		} else {
			p.Prefix = n
		}
	}
	if p.IP.IsValid() && p.Prefix != 0 {
		if err := checkHostInPrefix(p.IP, p.Prefix); err != nil {
			bad(ParamIP, "%v", err)
		}
	}

	if s := strings.TrimSpace(params[ParamNIC]); s != "" {
		if err := checkIfName(s); err != nil {
			bad(ParamNIC, "%v", err)
		} else {
			p.NIC = s
		}
	}

	if s := strings.TrimSpace(params[ParamARPCount]); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxARPCount {
			bad(ParamARPCount, "must be an integer from 0 (no gratuitous ARP) to %d", maxARPCount)
		} else {
			p.ARPCount = n
		}
	}

	if s := strings.TrimSpace(params[ParamARPInterval]); s != "" {
		d, err := parseInterval(s)
		if err != nil {
			bad(ParamARPInterval, "%v", err)
		} else {
			p.ARPInterval = d
		}
	}

	if s := strings.TrimSpace(params[ParamARPRefresh]); s != "" {
		b, err := parseBool(s)
		if err != nil {
			bad(ParamARPRefresh, "%v", err)
		} else {
			p.ARPRefresh = b
		}
	}

	if s, ok := params[ParamLabel]; ok {
		if err := checkLabel(s); err != nil {
			bad(ParamLabel, "%v", err)
		} else {
			p.Label = s
		}
	}
	if p.Label != "" && p.NIC != "" {
		if err := checkLabelFits(p.NIC, p.Label); err != nil {
			bad(ParamLabel, "%v", err)
		}
	}

	return p, errors.Join(errs...)
}

// parseNetmask accepts a prefix length ("24") or a dotted netmask
// ("255.255.255.0"), as IPaddr2 does.
func parseNetmask(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 32 {
			return 0, fmt.Errorf("prefix length out of range: must be 1 to 32 (e.g. 24)")
		}
		return n, nil
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("must be a prefix length from 1 to 32 (e.g. 24) or a dotted netmask (e.g. 255.255.255.0)")
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&(1<<31) != 0 {
		ones++
		v <<= 1
	}
	if v != 0 || ones == 0 {
		return 0, fmt.Errorf("netmask is not contiguous ones followed by zeros (e.g. 255.255.255.0)")
	}
	return ones, nil
}

// checkHostInPrefix refuses the network and broadcast addresses of the
// subnet: the kernel would take them, but nobody could reach them.
func checkHostInPrefix(ip netip.Addr, prefix int) error {
	if prefix >= 31 {
		return nil // RFC 3021 point-to-point and host routes have neither
	}
	pfx := netip.PrefixFrom(ip, prefix).Masked()
	if ip == pfx.Addr() {
		return fmt.Errorf("is the network address of %s; pick a host address", pfx)
	}
	if ip == broadcast(pfx) {
		return fmt.Errorf("is the broadcast address of %s; pick a host address", pfx)
	}
	return nil
}

func broadcast(pfx netip.Prefix) netip.Addr {
	b := pfx.Masked().Addr().As4()
	host := uint32(1)<<(32-pfx.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func checkIfName(s string) error {
	switch {
	case len(s) > ifNameMax:
		return fmt.Errorf("longer than %d characters: not an interface name", ifNameMax)
	case s == "." || s == "..":
		return fmt.Errorf("not an interface name")
	case strings.Contains(s, ":"):
		return fmt.Errorf("interface names have no ':'; an alias like eth0:1 is an address label, set label instead")
	case strings.ContainsAny(s, "/ \t\n"):
		return fmt.Errorf("not an interface name (no '/' or spaces)")
	}
	return nil
}

func checkLabel(s string) error {
	if s == "" {
		return fmt.Errorf("is empty; leave it out for no label")
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("use printable ASCII without spaces (e.g. web)")
		}
	}
	if len(s) > ifNameMax-2 {
		return fmt.Errorf("too long: the address label is <nic>:<label>, at most %d characters", ifNameMax)
	}
	return nil
}

// checkLabelFits checks the kernel's rule for an IPv4 label: it starts
// with the interface name and fits IFNAMSIZ.
func checkLabelFits(nic, label string) error {
	if l := len(nic) + 1 + len(label); l > ifNameMax {
		return fmt.Errorf("the address label %q would be %d characters; the kernel allows %d: shorten label", nic+":"+label, l, ifNameMax)
	}
	return nil
}

// parseInterval takes a Go duration ("200ms") or, as IPaddr2's arp_interval
// does, a bare number of milliseconds ("200").
func parseInterval(s string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.Atoi(s); err == nil {
		d = time.Duration(n) * time.Millisecond
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("not a duration (e.g. 200ms, or 200 for milliseconds)")
	}
	if d < time.Millisecond || d > maxARPInterval {
		return 0, fmt.Errorf("must be from 1ms to %s", maxARPInterval)
	}
	return d, nil
}

// parseBool accepts the spellings Pacemaker accepts for booleans.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1", "y":
		return true, nil
	case "false", "no", "off", "0", "n":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (true or false)")
}
