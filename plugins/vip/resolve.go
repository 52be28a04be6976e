package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// target is a VIP with every default filled in from this node: the
// interface it goes on and the prefix it gets.
type target struct {
	IP        netip.Addr
	Prefix    int
	LinkIndex int
	NIC       string
	// MAC is the interface's Ethernet address; nil on links without ARP or
	// neighbour discovery (loopback, tunnels), where nothing is announced.
	MAC   net.HardwareAddr
	Label string // the full IFA_LABEL, "<nic>:<label>", or "" (always for IPv6)
	Up    bool   // the interface is administratively up
}

// configError is a problem with the params on this node: OCF "not
// configured".
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

func notConfigured(format string, args ...any) error {
	return configError{fmt.Errorf(format, args...)}
}

// resolve fills in nic and cidr_netmask from the connected route that
// covers the IP, as IPaddr2's findif does: the most specific route of the
// main table with no gateway and link scope. A VIP on that subnet is then
// reachable by the same neighbours as the interface's own address.
func resolve(p Params) (target, error) {
	t := target{IP: p.IP, Prefix: p.Prefix}
	var link netlink.Link
	if p.NIC != "" {
		l, err := netlink.LinkByName(p.NIC)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				return t, notConfigured("%s %q: no such interface on this node (it has %s)", ParamNIC, p.NIC, linkNames())
			}
			return t, fmt.Errorf("look up %s %q: %w", ParamNIC, p.NIC, err)
		}
		link = l
	}
	if link == nil || t.Prefix == 0 {
		r, err := connectedRoute(p.IP, link)
		if err != nil {
			return t, err
		}
		if r == nil {
			if link == nil {
				return t, notConfigured("no interface of this node has a connected route covering %s %s, so %s and %s cannot be inferred: set %s and %s",
					ParamIP, p.IP, ParamNIC, ParamNetmask, ParamNIC, ParamNetmask)
			}
			return t, notConfigured("%s %q has no connected route covering %s %s, so %s cannot be inferred: set %s",
				ParamNIC, p.NIC, ParamIP, p.IP, ParamNetmask, ParamNetmask)
		}
		if t.Prefix == 0 {
			ones, _ := r.Dst.Mask.Size()
			t.Prefix = ones
		}
		if link == nil {
			l, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return t, fmt.Errorf("look up interface %d of the route to %s: %w", r.LinkIndex, p.IP, err)
			}
			link = l
		}
	}
	attrs := link.Attrs()
	t.LinkIndex = attrs.Index
	t.NIC = attrs.Name
	t.Up = attrs.Flags&net.FlagUp != 0
	if len(attrs.HardwareAddr) == 6 && attrs.EncapType == "ether" {
		t.MAC = attrs.HardwareAddr
	}
	if err := checkHostInPrefix(t.IP, t.Prefix); err != nil {
		return t, notConfigured("%s %s: %v (prefix /%d from the route on %s)", ParamIP, t.IP, err, t.Prefix, t.NIC)
	}
	if p.Label != "" {
		if err := checkLabelFits(t.NIC, p.Label); err != nil {
			return t, notConfigured("%s %q: %v", ParamLabel, p.Label, err)
		}
		t.Label = t.NIC + ":" + p.Label
	}
	return t, nil
}

// connectedRoute returns the most specific on-link route of the main table
// covering ip, on link when given; nil when there is none. IPv4 marks
// on-link routes with link scope; IPv6 routes all have global scope, and
// an on-link one is a prefix route without a gateway (not the default
// route, which names no subnet).
func connectedRoute(ip netip.Addr, link netlink.Link) (*netlink.Route, error) {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	mask := netlink.RT_FILTER_TABLE
	if link != nil {
		filter.LinkIndex = link.Attrs().Index
		mask |= netlink.RT_FILTER_OIF
	}
	fam := netlink.FAMILY_V4
	if ip.Is6() {
		fam = netlink.FAMILY_V6
	}
	routes, err := netlink.RouteListFiltered(fam, filter, mask)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var best *netlink.Route
	bestBits := -1
	for i := range routes {
		r := &routes[i]
		if r.Dst == nil || r.Gw != nil || len(r.MultiPath) > 0 || r.Type != unix.RTN_UNICAST {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ip.Is6() && ones == 0 || ip.Is4() && r.Scope != netlink.SCOPE_LINK {
			continue
		}
		if !r.Dst.Contains(ip.AsSlice()) {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones > bestBits {
			best, bestBits = r, ones
		}
	}
	return best, nil
}

func linkNames() string {
	links, err := netlink.LinkList()
	if err != nil || len(links) == 0 {
		return "no interface that could be listed"
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return strings.Join(names, ", ")
}
