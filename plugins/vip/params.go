package vip

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
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

// paramSpecs are the vip agent's parameters: MetaData documents them and
// ParseParams checks a resource's against them.
var paramSpecs = []sdk.ParamSpec{
	{Name: ParamIP, Type: "ip", Required: true,
		Description: "The address to float: IPv4 (198.51.100.23) or IPv6 (2001:db8::23). A unicast host address: " +
			"not the network or broadcast address of its IPv4 subnet, not an IPv6 link-local or subnet-router anycast address."},
	{Name: ParamNetmask, Type: "string",
		Description: "Prefix length of the address: 1-32 for IPv4 (a dotted netmask such as 255.255.255.0 is accepted too), " +
			"1-128 for IPv6. Default: the prefix of the connected route that covers ip (the subnet of the interface that reaches it)."},
	{Name: ParamNIC, Type: "string",
		Description: "Interface to add the address to. Default: the interface of the connected route that covers ip."},
	{Name: ParamARPCount, Type: "integer", Default: fmt.Sprint(DefaultARPCount), Min: "0", Max: fmt.Sprint(maxARPCount),
		Description: "Announcements sent at start (0: none): gratuitous ARPs (each a request and a reply) for IPv4, unsolicited " +
			"neighbour advertisements for IPv6. The first goes out before start returns; the rest follow in the background. " +
			"The name is IPaddr2's, which counts IPv6 advertisements with it too."},
	{Name: ParamARPInterval, Type: "duration", Default: DefaultARPInterval.String(), Min: "1ms", Max: maxARPInterval.String(), Unit: "ms",
		Description: "Time between announcements at start (a bare number is milliseconds, as in IPaddr2)."},
	{Name: ParamARPRefresh, Type: "boolean", Default: "false",
		Description: "Send one announcement (gratuitous ARP, or neighbour advertisement for IPv6) at every monitor as well."},
	{Name: ParamLabel, Type: "string",
		Description: "IPv4 only: address label suffix: the address is labelled <nic>:<label> (at most 15 characters in all), " +
			"as ifconfig aliases were. Default: no label."},
}

// Params are a VIP resource's parameters, parsed. Prefix 0 and NIC ""
// mean "take them from the connected route that covers IP".
type Params struct {
	IP          netip.Addr
	Prefix      int
	NIC         string
	ARPCount    int // announcements: gratuitous ARPs, or neighbour advertisements for IPv6
	ARPInterval time.Duration
	ARPRefresh  bool
	Label       string
}

// ParseParams checks params without looking at the system: sdk.ParseParams
// checks them against the meta-data (names, types, ranges, defaults), then
// what makes an address a VIP is checked here. Every problem is reported,
// each naming its parameter.
func ParseParams(params map[string]string) (Params, error) {
	v := sdk.ParseParams(Name, paramSpecs, params)
	p := Params{
		ARPCount:    v.Int(ParamARPCount),
		ARPInterval: v.Duration(ParamARPInterval),
		ARPRefresh:  v.Bool(ParamARPRefresh),
	}
	// The family decides what a netmask may be; when ip does not parse,
	// its text still tells which one was meant.
	is6 := strings.Contains(params[ParamIP], ":")
	if ip := v.IP(ParamIP); ip.IsValid() {
		ip = ip.Unmap()
		is6 = ip.Is6()
		if err := checkUnicast(ip); err != nil {
			v.Invalid(ParamIP, "%v", err)
		} else {
			p.IP = ip
		}
	}

	if s := v.String(ParamNetmask); s != "" {
		if n, err := parseNetmask(s, is6); err != nil {
			v.Invalid(ParamNetmask, "%v", err)
		} else {
			p.Prefix = n
		}
	}
	if p.IP.IsValid() && p.Prefix != 0 {
		if err := checkHostInPrefix(p.IP, p.Prefix); err != nil {
			v.Invalid(ParamIP, "%v", err)
		}
	}

	if s := v.String(ParamNIC); s != "" {
		if err := checkIfName(s); err != nil {
			v.Invalid(ParamNIC, "%v", err)
		} else {
			p.NIC = s
		}
	}

	if v.Given(ParamLabel) {
		s := v.Raw(ParamLabel)
		switch err := checkLabel(s); {
		case err != nil:
			v.Invalid(ParamLabel, "%v", err)
		case is6:
			v.Invalid(ParamLabel, "IPv6 addresses have no label in Linux: remove label (the address is marked as tandem's without it)")
		default:
			p.Label = s
		}
	}
	if p.Label != "" && p.NIC != "" {
		if err := checkLabelFits(p.NIC, p.Label); err != nil {
			v.Invalid(ParamLabel, "%v", err)
		}
	}
	return p, v.Err()
}

// checkUnicast refuses what cannot be a host's address on a link.
func checkUnicast(ip netip.Addr) error {
	switch {
	case ip.Zone() != "":
		return fmt.Errorf("has a zone (%%%s); give the interface as nic instead", ip.Zone())
	case ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast(), ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("is not a unicast host address")
	case ip.Is6() && ip.IsLinkLocalUnicast():
		// Every interface has its own fe80::/64; one floating between
		// nodes would be reachable only with a zone, which clients lack.
		return fmt.Errorf("is link-local (fe80::/10); float a global or unique-local (fd00::/8) address")
	}
	return nil
}

// parseNetmask accepts a prefix length ("24", "64") or, for IPv4, a dotted
// netmask ("255.255.255.0"), as IPaddr2 does.
func parseNetmask(s string, is6 bool) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if is6 && (n < 1 || n > 128) {
			return 0, fmt.Errorf("prefix length out of range: must be 1 to 128 for IPv6 (e.g. 64)")
		}
		if !is6 && (n < 1 || n > 32) {
			return 0, fmt.Errorf("prefix length out of range: must be 1 to 32 (e.g. 24)")
		}
		return n, nil
	}
	if is6 {
		return 0, fmt.Errorf("must be a prefix length from 1 to 128 (e.g. 64); dotted netmasks are IPv4's")
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

// checkHostInPrefix refuses the network and broadcast addresses of an
// IPv4 subnet, and the Subnet-Router anycast address of an IPv6 one (RFC
// 4291 2.6.1, the routers' own): the kernel would take them, but nobody
// could reach them.
func checkHostInPrefix(ip netip.Addr, prefix int) error {
	if ip.Is6() {
		pfx := netip.PrefixFrom(ip, prefix).Masked()
		if prefix < 127 && ip == pfx.Addr() { // RFC 6164: a /127 link has no anycast address
			return fmt.Errorf("is the Subnet-Router anycast address of %s; pick a host address", pfx)
		}
		return nil
	}
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
