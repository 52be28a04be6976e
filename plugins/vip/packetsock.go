package vip

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// packetSocket is an AF_PACKET socket bound to one interface that sends
// and receives whole Ethernet frames of one ethertype: ARP for IPv4 VIPs,
// IPv6 for neighbour discovery. It needs CAP_NET_RAW, and belongs to the
// network namespace of the thread that opened it.
type packetSocket struct {
	fd      int
	ifindex int
	proto   uint16 // ethertype, host order
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacketSocket opens a socket for proto's frames on ifindex. With
// listen false it receives nothing (protocol 0): a socket kept only to send
// announcements does not queue the segment's traffic nobody reads.
func openPacketSocket(ifindex int, proto uint16, listen bool) (*packetSocket, error) {
	rx := uint16(0)
	if listen {
		rx = htons(proto)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(rx))
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: rx, Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to interface %d: %w", ifindex, err)
	}
	return &packetSocket{fd: fd, ifindex: ifindex, proto: proto}, nil
}

func (s *packetSocket) Close() error { return unix.Close(s.fd) }

// attachFilter installs a classic BPF program that decides which frames
// the kernel queues on the socket.
func (s *packetSocket) attachFilter(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(s.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("attach packet filter: %w", err)
	}
	return nil
}

func (s *packetSocket) send(frame []byte) error {
	to := &unix.SockaddrLinklayer{Protocol: htons(s.proto), Ifindex: s.ifindex, Halen: 6}
	copy(to.Addr[:], frame[0:6])
	if err := unix.Sendto(s.fd, frame, 0, to); err != nil {
		return fmt.Errorf("send frame: %w", err)
	}
	return nil
}

// errNoFrame says that no frame arrived in time.
var errNoFrame = errors.New("no frame")

// waitReadable waits up to d for a frame to read.
func (s *packetSocket) waitReadable(d time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	n, err := unix.Poll(fds, ms)
	if errors.Is(err, unix.EINTR) {
		return errNoFrame
	}
	if err != nil {
		return fmt.Errorf("wait for frames: %w", err)
	}
	if n == 0 {
		return errNoFrame
	}
	return nil
}

// recv reads one frame without blocking. incoming is false for frames this
// host sent (a packet socket sees those too) and for frames of another
// interface queued before the bind.
func (s *packetSocket) recv(buf []byte) (n int, incoming bool, err error) {
	n, from, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
	if err != nil {
		return 0, false, err
	}
	ll, ok := from.(*unix.SockaddrLinklayer)
	return n, ok && ll.Pkttype != unix.PACKET_OUTGOING && ll.Ifindex == s.ifindex, nil
}

// maxFramesPerProbe bounds the frames one probe reads, so a flood on a
// busy segment cannot keep a monitor looping until its deadline.
const maxFramesPerProbe = 1000

// watch reads incoming frames until deadline and returns the first MAC
// that claim finds in one; nil when none did.
func (s *packetSocket) watch(deadline time.Time, claim func(frame []byte) net.HardwareAddr) (net.HardwareAddr, error) {
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
			return nil, fmt.Errorf("read frames: %w", err)
		}
		if !incoming {
			continue
		}
		if mac := claim(buf[:n]); mac != nil {
			return mac, nil
		}
	}
	return nil, nil
}
