package vip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The IPv6 lab: as the IPv4 one, two namespaces joined by a veth pair, but
// named "tdv6..." and addressed from 2001:2::/48 (RFC 5180, benchmarking)
// only. Their own addresses are added with nodad, so that no Duplicate
// Address Detection delays a test.
const (
	nic6A  = "tdv6a"
	nic6B  = "tdv6b"
	vip6IP = "2001:2::23"
)

func newLab6(t testing.TB) *lab {
	t.Helper()
	return buildLab(t, labNet{prefix: "tdv6", nicA: nic6A, nicB: nic6B,
		addA: []string{"2001:2::1/64", "nodad"}, addB: []string{"2001:2::2/64", "nodad"}})
}

// naFrame is an unsolicited neighbour advertisement as the peer saw it,
// decoded here from the bytes (offsets of RFC 2464 and RFC 8200) and with
// mdlayher/ndp, apart from the agent's own parser.
type naFrame struct {
	dstMAC, srcMAC net.HardwareAddr
	hopLimit       uint8
	src, dst       netip.Addr
	na             *ndp.NeighborAdvertisement
	tlla           net.HardwareAddr
	at             time.Time
}

func decodeNA(b []byte) (naFrame, error) {
	if len(b) < 14+40+24 || binary.BigEndian.Uint16(b[12:14]) != 0x86dd || b[14+6] != 58 {
		return naFrame{}, errors.New("not ICMPv6 over Ethernet")
	}
	n := int(binary.BigEndian.Uint16(b[14+4 : 14+6]))
	if len(b) < 14+40+n {
		return naFrame{}, errors.New("truncated")
	}
	m, err := ndp.ParseMessage(b[14+40 : 14+40+n])
	if err != nil {
		return naFrame{}, err
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		return naFrame{}, fmt.Errorf("ICMPv6 %s, not a neighbour advertisement", m.Type())
	}
	f := naFrame{
		dstMAC: net.HardwareAddr(bytes.Clone(b[0:6])), srcMAC: net.HardwareAddr(bytes.Clone(b[6:12])),
		hopLimit: b[14+7],
		src:      netip.AddrFrom16([16]byte(b[14+8 : 14+24])), dst: netip.AddrFrom16([16]byte(b[14+24 : 14+40])),
		na: na,
	}
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			f.tlla = lla.Addr
		}
	}
	return f, nil
}

// ndWatcher is a packet socket in the peer's namespace, opened with plain
// syscalls (not the agent's code), that records the neighbour
// advertisements arriving on nic, with the time each arrived.
type ndWatcher struct {
	frames chan naFrame
}

func watchNA(t testing.TB, ns netns.NsHandle, nic string) *ndWatcher {
	t.Helper()
	var fd, ifindex int
	err := in(ns, func() error {
		link, err := netlink.LinkByName(nic)
		if err != nil {
			return err
		}
		ifindex = link.Attrs().Index
		proto := htons(unix.ETH_P_IPV6)
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto)); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex}); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &ndWatcher{frames: make(chan naFrame, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for ctx.Err() == nil {
			// Bounded waits: the loop notices the cancel within 50 ms.
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(fds, 50); err != nil || n == 0 {
				continue
			}
			n, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING || ll.Ifindex != ifindex {
				continue
			}
			f, err := decodeNA(buf[:n])
			if err != nil {
				continue
			}
			f.at = time.Now()
			select {
			case w.frames <- f:
			default:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; unix.Close(fd) })
	return w
}

// next waits up to total for an advertisement that matches.
func (w *ndWatcher) next(total time.Duration, match func(naFrame) bool) (naFrame, error) {
	timer := time.NewTimer(total)
	defer timer.Stop()
	for {
		select {
		case f := <-w.frames:
			if match(f) {
				return f, nil
			}
		case <-timer.C:
			return naFrame{}, errors.New("no matching neighbour advertisement")
		}
	}
}

// unsolicitedFrom says whether f is the announcement RFC 4861 7.2.6 and
// the brief ask for: to all nodes, hop limit 255, from the VIP, Override
// set and Solicited clear, naming mac in a target link-layer option.
func unsolicitedFrom(mac net.HardwareAddr, ip netip.Addr) func(naFrame) bool {
	return func(f naFrame) bool {
		return bytes.Equal(f.dstMAC, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}) && bytes.Equal(f.srcMAC, mac) &&
			f.hopLimit == 255 && f.src == ip && f.dst == netip.MustParseAddr("ff02::1") &&
			f.na.TargetAddress == ip && f.na.Override && !f.na.Solicited && !f.na.Router && bytes.Equal(f.tlla, mac)
	}
}
