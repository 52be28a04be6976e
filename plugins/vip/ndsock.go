package vip

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// ndSocket sends and receives neighbour discovery frames on one interface,
// for IPv6 VIPs.
type ndSocket struct {
	*packetSocket
	mac net.HardwareAddr
}

var _ announcer = (*ndSocket)(nil)

// ndFilter keeps, of all the IPv6 frames of the interface, the neighbour
// solicitations and advertisements without extension headers: on a busy
// segment the probe would otherwise read its whole frame budget in data
// traffic before the answer it waits for.
var ndFilter = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 12},                           // 0: ethertype
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 5, K: etherTypeIPv6}, // 1: not IPv6: drop
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: ethHeaderLen + 6},             // 2: next header
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: protoICMPv6},   // 3: not ICMPv6: drop
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: ethHeaderLen + ipv6HeaderLen}, // 4: ICMPv6 type
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 2, Jf: 0, K: icmpTypeNS},    // 5: NS: keep
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 0, K: icmpTypeNA},    // 6: NA: keep
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},                                          // 7: drop
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},                                     // 8: keep the frame
}

// openNDSocket opens the socket; with listen false it only sends.
func openNDSocket(ifindex int, mac net.HardwareAddr, listen bool) (*ndSocket, error) {
	s, err := openPacketSocket(ifindex, unix.ETH_P_IPV6, listen)
	if err != nil {
		return nil, err
	}
	if listen {
		if err := s.attachFilter(ndFilter); err != nil {
			s.Close()
			return nil, err
		}
	}
	return &ndSocket{packetSocket: s, mac: mac}, nil
}

// announce sends one unsolicited neighbour advertisement for ip.
func (s *ndSocket) announce(ip netip.Addr) error {
	f, err := unsolicitedNA(s.mac, ip)
	if err != nil {
		return err
	}
	return s.send(f)
}

// findClaim sends a Duplicate Address Detection probe for ip and watches
// until deadline for another host claiming it. It returns that host's MAC,
// or nil when nobody did.
func (s *ndSocket) findClaim(ip netip.Addr, deadline time.Time) (net.HardwareAddr, error) {
	f, err := dadProbe(s.mac, ip)
	if err != nil {
		return nil, err
	}
	if err := s.send(f); err != nil {
		return nil, err
	}
	return s.watch(deadline, func(frame []byte) net.HardwareAddr {
		p, err := parseNDFrame(frame)
		if err != nil {
			return nil
		}
		mac, _ := claimsAddress6(p, ip, s.mac)
		return mac
	})
}
