package vip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// ARP on Ethernet: the frames this agent sends and the ones it reads. The
// bytes are built here, without I/O, so that they can be checked against
// golden frames; arpsock.go only puts them on the wire.

const (
	etherTypeARP  = 0x0806
	etherTypeIPv4 = 0x0800
	arpHTypeEther = 1
	arpOpRequest  = 1
	arpOpReply    = 2

	ethHeaderLen = 14
	arpLen       = 28
	// minFrameLen is Ethernet's minimum frame without the FCS. The NIC would
	// pad a short frame; padding here keeps what we send what we tested.
	minFrameLen = 60
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	zeroMAC      = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

// arpPacket is the ARP payload of an Ethernet frame.
type arpPacket struct {
	Op        uint16
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
}

// gratuitousRequest announces that ip is at mac with a broadcast ARP
// request whose sender and target address are both ip (RFC 5944 4.6; the
// target hardware address is unused and zero). Hosts that cache ip update
// their entry; Linux also creates one if arp_accept is set.
func gratuitousRequest(mac net.HardwareAddr, ip netip.Addr) []byte {
	return frame(broadcastMAC, arpPacket{Op: arpOpRequest, SenderMAC: mac, SenderIP: ip, TargetMAC: zeroMAC, TargetIP: ip})
}

// gratuitousReply is the reply form of the same announcement (RFC 5944
// 4.6: the target hardware address is also mac), broadcast. Some switches
// and older stacks only learn from replies, so both forms are sent.
func gratuitousReply(mac net.HardwareAddr, ip netip.Addr) []byte {
	return frame(broadcastMAC, arpPacket{Op: arpOpReply, SenderMAC: mac, SenderIP: ip, TargetMAC: mac, TargetIP: ip})
}

// probe asks who has ip without claiming it: an RFC 5227 ARP probe, sender
// address 0.0.0.0, so that no neighbour's cache changes. A host that owns ip
// answers it (Linux does even for a sender of 0.0.0.0), which is how an
// address conflict shows.
func probe(mac net.HardwareAddr, ip netip.Addr) []byte {
	return frame(broadcastMAC, arpPacket{Op: arpOpRequest, SenderMAC: mac, SenderIP: netip.IPv4Unspecified(), TargetMAC: zeroMAC, TargetIP: ip})
}

// frame lays out an Ethernet II frame carrying p, from p.SenderMAC to dst,
// padded to the Ethernet minimum.
func frame(dst net.HardwareAddr, p arpPacket) []byte {
	b := make([]byte, minFrameLen)
	copy(b[0:6], dst)
	copy(b[6:12], p.SenderMAC)
	binary.BigEndian.PutUint16(b[12:14], etherTypeARP)
	a := b[ethHeaderLen:]
	binary.BigEndian.PutUint16(a[0:2], arpHTypeEther)
	binary.BigEndian.PutUint16(a[2:4], etherTypeIPv4)
	a[4] = 6 // hardware address length
	a[5] = 4 // protocol address length
	binary.BigEndian.PutUint16(a[6:8], p.Op)
	copy(a[8:14], p.SenderMAC)
	sip := p.SenderIP.As4()
	copy(a[14:18], sip[:])
	copy(a[18:24], p.TargetMAC)
	tip := p.TargetIP.As4()
	copy(a[24:28], tip[:])
	return b
}

// parseFrame reads an Ethernet frame carrying an IPv4-over-Ethernet ARP
// packet; anything else is an error.
func parseFrame(b []byte) (arpPacket, error) {
	if len(b) < ethHeaderLen+arpLen {
		return arpPacket{}, fmt.Errorf("frame of %d bytes is too short for ARP", len(b))
	}
	if et := binary.BigEndian.Uint16(b[12:14]); et != etherTypeARP {
		return arpPacket{}, fmt.Errorf("ethertype %#04x is not ARP", et)
	}
	return parseARP(b[ethHeaderLen:])
}

// parseARP reads the ARP payload alone (what an AF_PACKET SOCK_DGRAM
// socket returns).
func parseARP(a []byte) (arpPacket, error) {
	if len(a) < arpLen {
		return arpPacket{}, fmt.Errorf("ARP packet of %d bytes is too short", len(a))
	}
	if binary.BigEndian.Uint16(a[0:2]) != arpHTypeEther || binary.BigEndian.Uint16(a[2:4]) != etherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		return arpPacket{}, fmt.Errorf("not IPv4-over-Ethernet ARP")
	}
	return arpPacket{
		Op:        binary.BigEndian.Uint16(a[6:8]),
		SenderMAC: net.HardwareAddr(bytes.Clone(a[8:14])),
		SenderIP:  netip.AddrFrom4([4]byte(a[14:18])),
		TargetMAC: net.HardwareAddr(bytes.Clone(a[18:24])),
		TargetIP:  netip.AddrFrom4([4]byte(a[24:28])),
	}, nil
}

// claimsAddress says whether p shows another host using ip: it is sent
// from ip (a reply to our probe, or that host's own request or
// announcement) by a hardware address that is not ours.
func claimsAddress(p arpPacket, ip netip.Addr, ours net.HardwareAddr) bool {
	return p.SenderIP == ip && !bytes.Equal(p.SenderMAC, ours)
}
