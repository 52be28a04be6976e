package vip

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// arpSocket sends and receives whole ARP frames on one interface.
type arpSocket struct {
	*packetSocket
	mac net.HardwareAddr
}

var _ announcer = (*arpSocket)(nil)

func openARPSocket(ifindex int, mac net.HardwareAddr) (*arpSocket, error) {
	s, err := openPacketSocket(ifindex, unix.ETH_P_ARP, true)
	if err != nil {
		return nil, err
	}
	return &arpSocket{packetSocket: s, mac: mac}, nil
}

// announce sends one gratuitous ARP in both forms, request then reply.
func (s *arpSocket) announce(ip netip.Addr) error {
	if err := s.send(gratuitousRequest(s.mac, ip)); err != nil {
		return err
	}
	return s.send(gratuitousReply(s.mac, ip))
}

// findClaim probes for ip and watches until deadline for another host
// claiming it. It returns that host's MAC, or nil when nobody did.
func (s *arpSocket) findClaim(ip netip.Addr, deadline time.Time) (net.HardwareAddr, error) {
	if err := s.send(probe(s.mac, ip)); err != nil {
		return nil, err
	}
	return s.watch(deadline, func(frame []byte) net.HardwareAddr {
		p, err := parseFrame(frame)
		if err != nil || !claimsAddress(p, ip, s.mac) {
			return nil
		}
		return p.SenderMAC
	})
}
