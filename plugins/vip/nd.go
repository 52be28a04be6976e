package vip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
)

// IPv6 Neighbour Discovery on Ethernet (RFC 4861): the frames this agent
// sends for an IPv6 VIP and the ones it reads, IPv6's counterpart of arp.go.
// The ICMPv6 messages, options and checksums are mdlayher/ndp's; the
// Ethernet and IPv6 headers around them are laid out here, without I/O, so
// that whole frames can be checked against golden ones. ndp's own Conn is a
// raw ICMPv6 socket, which cannot send from the unspecified address (a
// Duplicate Address Detection probe must) and whose multicasts the local
// stack would see; ndsock.go sends the frames on a packet socket instead,
// as arpsock.go does.

const (
	etherTypeIPv6 = 0x86dd
	ipv6HeaderLen = 40
	protoICMPv6   = 58
	// ndHopLimit is what every ND message carries; a receiver drops one
	// with another (RFC 4861 7.1.2), which proves it was not routed.
	ndHopLimit = 255

	icmpTypeNS = 135
	icmpTypeNA = 136
)

var allNodes = netip.MustParseAddr("ff02::1")

// multicastMAC is the Ethernet group an IPv6 multicast address maps to:
// 33:33 and its last 32 bits (RFC 2464 7).
func multicastMAC(group netip.Addr) net.HardwareAddr {
	b := group.As16()
	return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// unsolicitedNA announces that ip is at mac: a neighbour advertisement to
// all nodes (ff02::1) from ip, Override set so that neighbours replace the
// link-layer address they cached (the previous node's), Solicited clear,
// with mac in a target link-layer address option (RFC 4861 7.2.6). Linux
// neighbours update an existing entry; none creates one, so no cache fills
// up with addresses nobody talks to.
func unsolicitedNA(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
	return ndFrame(multicastMAC(allNodes), mac, ip, allNodes, na)
}

// dadProbe asks who has ip without claiming it: a neighbour solicitation
// from the unspecified address to ip's solicited-node group, with no
// source link-layer option, as Duplicate Address Detection sends (RFC 4862
// 5.4.2). No neighbour's cache changes; a host that has ip answers with a
// neighbour advertisement to all nodes, which is how a conflict shows.
func dadProbe(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	group, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return nil, fmt.Errorf("solicited-node group of %s: %w", ip, err)
	}
	return ndFrame(multicastMAC(group), mac, netip.IPv6Unspecified(), group, &ndp.NeighborSolicitation{TargetAddress: ip})
}

// ndFrame lays out an Ethernet II frame carrying an IPv6 packet (hop limit
// 255, no extension headers) carrying m, its checksum computed over the
// pseudo-header of src and dst.
func ndFrame(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, m ndp.Message) ([]byte, error) {
	body, err := ndp.MarshalMessageChecksum(m, src, dst)
	if err != nil {
		return nil, fmt.Errorf("neighbour discovery message: %w", err)
	}
	b := make([]byte, ethHeaderLen+ipv6HeaderLen+len(body))
	copy(b[0:6], dstMAC)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:14], etherTypeIPv6)
	h := b[ethHeaderLen:]
	h[0] = 6 << 4 // version 6, traffic class and flow label 0
	binary.BigEndian.PutUint16(h[4:6], uint16(len(body)))
	h[6] = protoICMPv6
	h[7] = ndHopLimit
	s, d := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
	copy(h[ipv6HeaderLen:], body)
	return b, nil
}

// ndPacket is what the conflict check needs of a received ND frame.
type ndPacket struct {
	SrcMAC net.HardwareAddr // Ethernet source
	Src    netip.Addr       // IPv6 source
	Msg    ndp.Message
}

// parseNDFrame reads an Ethernet frame carrying an ND message; anything
// else, or a message no ND host would accept (hop limit not 255, a wrong
// checksum), is an error.
func parseNDFrame(b []byte) (ndPacket, error) {
	if len(b) < ethHeaderLen+ipv6HeaderLen+4 {
		return ndPacket{}, fmt.Errorf("frame of %d bytes is too short for ND", len(b))
	}
	if et := binary.BigEndian.Uint16(b[12:14]); et != etherTypeIPv6 {
		return ndPacket{}, fmt.Errorf("ethertype %#04x is not IPv6", et)
	}
	h := b[ethHeaderLen:]
	if h[0]>>4 != 6 || h[6] != protoICMPv6 {
		return ndPacket{}, fmt.Errorf("not ICMPv6 without extension headers")
	}
	if h[7] != ndHopLimit {
		return ndPacket{}, fmt.Errorf("hop limit %d: not a neighbour discovery message", h[7])
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	if len(h) < ipv6HeaderLen+n {
		return ndPacket{}, fmt.Errorf("IPv6 payload of %d bytes in a frame of %d", n, len(b))
	}
	src := netip.AddrFrom16([16]byte(h[8:24]))
	dst := netip.AddrFrom16([16]byte(h[24:40]))
	body := h[ipv6HeaderLen : ipv6HeaderLen+n]
	if icmpv6Checksum(src, dst, body) != 0 {
		return ndPacket{}, fmt.Errorf("bad ICMPv6 checksum")
	}
	m, err := ndp.ParseMessage(body)
	if err != nil {
		return ndPacket{}, err
	}
	return ndPacket{SrcMAC: net.HardwareAddr(bytes.Clone(b[6:12])), Src: src, Msg: m}, nil
}

// icmpv6Checksum is the one's complement sum over the IPv6 pseudo-header
// and body (RFC 8200 8.1, RFC 1071): 0 for a body whose checksum field is
// right.
func icmpv6Checksum(src, dst netip.Addr, body []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[0:4], uint32(len(body)))
	tail[7] = protoICMPv6
	add(tail[:])
	add(body)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// claimsAddress6 says whether p shows another host using ip: an
// advertisement for ip (an answer to our probe, or that host's own
// announcement), or a solicitation sent from ip, by a hardware address that
// is not ours. Another host's Duplicate Address Detection probe (from the
// unspecified address) does not claim ip yet.
func claimsAddress6(p ndPacket, ip netip.Addr, ours net.HardwareAddr) (net.HardwareAddr, bool) {
	if bytes.Equal(p.SrcMAC, ours) {
		return nil, false
	}
	switch m := p.Msg.(type) {
	case *ndp.NeighborAdvertisement:
		if m.TargetAddress != ip {
			return nil, false
		}
		for _, o := range m.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
				if bytes.Equal(lla.Addr, ours) {
					return nil, false // a proxy repeating that ip is at our MAC: no conflict
				}
				return lla.Addr, true
			}
		}
		return p.SrcMAC, true
	case *ndp.NeighborSolicitation:
		if p.Src == ip {
			return p.SrcMAC, true
		}
	}
	return nil, false
}
