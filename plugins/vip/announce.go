package vip

import (
	"net"
	"net/netip"
	"time"
)

// announcer tells a segment that an address is here and watches it for
// another host claiming the address: gratuitous ARP and ARP probes for an
// IPv4 VIP (arpsock.go), unsolicited neighbour advertisements and
// Duplicate Address Detection probes for an IPv6 one (ndsock.go).
type announcer interface {
	announce(ip netip.Addr) error
	findClaim(ip netip.Addr, deadline time.Time) (net.HardwareAddr, error)
	Close() error
}

// openAnnouncer opens the announcer for ip's family on the interface. With
// listen false it will only announce (what start keeps for its background
// announcements).
func openAnnouncer(ip netip.Addr, ifindex int, mac net.HardwareAddr, listen bool) (announcer, error) {
	if ip.Is6() {
		return openNDSocket(ifindex, mac, listen)
	}
	return openARPSocket(ifindex, mac)
}

// announcement names what announces ip, for messages.
func announcement(ip netip.Addr) string {
	if ip.Is6() {
		return "unsolicited neighbour advertisement"
	}
	return "gratuitous ARP"
}

// probeName names how a monitor looks for a conflict on ip, for messages.
func probeName(ip netip.Addr) string {
	if ip.Is6() {
		return "duplicate address probe (neighbour solicitation)"
	}
	return "ARP probe"
}

// discovery names the protocol that finds ip's neighbours, for messages.
func discovery(ip netip.Addr) string {
	if ip.Is6() {
		return "neighbour discovery"
	}
	return "ARP"
}
