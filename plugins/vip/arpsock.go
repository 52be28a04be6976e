package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// arpSocket is an AF_PACKET socket bound to one interface that sends and
// receives whole ARP frames. It needs CAP_NET_RAW. The socket belongs to the
// network namespace of the thread that opened it.
type arpSocket struct {
	fd      int
	ifindex int
	mac     net.HardwareAddr
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openARPSocket(ifindex int, mac net.HardwareAddr) (*arpSocket, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return nil, fmt.Errorf("open ARP packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind ARP packet socket to interface %d: %w", ifindex, err)
	}
	return &arpSocket{fd: fd, ifindex: ifindex, mac: mac}, nil
}

func (s *arpSocket) Close() error { return unix.Close(s.fd) }

func (s *arpSocket) send(frame []byte) error {
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: s.ifindex, Halen: 6}
	copy(to.Addr[:], frame[0:6])
	if err := unix.Sendto(s.fd, frame, 0, to); err != nil {
		return fmt.Errorf("send ARP frame: %w", err)
	}
	return nil
}

// announce sends one gratuitous ARP in both forms, request then reply.
func (s *arpSocket) announce(ip netip.Addr) error {
	if err := s.send(gratuitousRequest(s.mac, ip)); err != nil {
		return err
	}
	return s.send(gratuitousReply(s.mac, ip))
}

// errNoFrame says that no frame arrived in time.
var errNoFrame = errors.New("no frame")

// waitReadable waits up to d for a frame to read.
func (s *arpSocket) waitReadable(d time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	n, err := unix.Poll(fds, ms)
	if errors.Is(err, unix.EINTR) {
		return errNoFrame
	}
	if err != nil {
		return fmt.Errorf("wait for ARP frames: %w", err)
	}
	if n == 0 {
		return errNoFrame
	}
	return nil
}

// recv reads one frame without blocking. incoming is false for frames this
// host sent (a packet socket sees those too) and for frames of another
// interface queued before the bind.
func (s *arpSocket) recv(buf []byte) (n int, incoming bool, err error) {
	n, from, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
	if err != nil {
		return 0, false, err
	}
	ll, ok := from.(*unix.SockaddrLinklayer)
	return n, ok && ll.Pkttype != unix.PACKET_OUTGOING && ll.Ifindex == s.ifindex, nil
}

// maxFramesPerProbe bounds the frames one probe reads, so a flood of ARP
// on a busy segment cannot keep a monitor looping until its deadline.
const maxFramesPerProbe = 1000

// findClaim probes for ip and watches until deadline for another host
// claiming it. It returns that host's MAC, or nil when nobody did.
func (s *arpSocket) findClaim(ip netip.Addr, deadline time.Time) (net.HardwareAddr, error) {
	if err := s.send(probe(s.mac, ip)); err != nil {
		return nil, err
	}
	buf := make([]byte, 1500)
	for range maxFramesPerProbe {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		err := s.waitReadable(left)
		if errors.Is(err, errNoFrame) {
			continue
		}
		if err != nil {
			return nil, err
		}
		n, incoming, err := s.recv(buf)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read ARP replies: %w", err)
		}
		if !incoming {
			continue
		}
		p, err := parseFrame(buf[:n])
		if err != nil {
			continue
		}
		if claimsAddress(p, ip, s.mac) {
			return p.SenderMAC, nil
		}
	}
	return nil, nil
}
