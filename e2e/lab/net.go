package lab

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// run runs a host tool and turns a failure into an error holding its output.
func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = hostEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// addBridge creates the lab's bridge with the host's address on it: the
// host reaches the nodes through it, and only the lab's subnet is routed
// there (the connected route of that address).
func (l *Lab) addBridge() error {
	br := l.st.BridgeName
	pfx := netip.PrefixFrom(l.st.Bridge, l.st.Subnet.Bits())
	for _, args := range [][]string{
		// A set address: a bridge otherwise takes its lowest port's, which
		// changes as nodes come and go and leaves stale ARP entries behind.
		{"link", "add", br, "address", labMAC(l.st.Bridge), "type", "bridge", "stp_state", "0", "forward_delay", "0"},
		{"addr", "add", pfx.String(), "dev", br},
		{"link", "set", br, "up"},
	} {
		if err := run("ip", args...); err != nil {
			return fmt.Errorf("lab bridge: %w", err)
		}
	}
	return nil
}

// addNodeNet creates the node's network namespace and its veth: the host
// end on the bridge, the other end as eth0 in the namespace with the node's
// address. No default route: a node only reaches the lab's subnet.
func (l *Lab) addNodeNet(n *nodeState) error {
	ns := n.NetNS
	pfx := netip.PrefixFrom(n.Addr, l.st.Subnet.Bits())
	steps := [][]string{
		{"ip", "netns", "add", ns},
		// eth0's address is fixed by the node's IP: a restarted node keeps
		// its MAC, so the others' ARP entries stay right (as with a VM).
		{"ip", "link", "add", n.Veth, "type", "veth", "peer", "name", "eth0", "address", labMAC(n.Addr), "netns", ns},
		{"ip", "link", "set", n.Veth, "master", l.st.BridgeName},
		{"ip", "link", "set", n.Veth, "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "addr", "add", pfx.String(), "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		// /proc/sys is read-only inside the container: set per namespace
		// here. HAProxy binds the VIP before this node holds it.
		{"ip", "netns", "exec", ns, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_nonlocal_bind"},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return fmt.Errorf("%s: network: %w", n.Name, err)
		}
	}
	return nil
}

// labMAC is a locally administered MAC derived from a lab address.
func labMAC(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:7a:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// delNodeNet removes the node's veth and namespace (missing ones are fine).
func (l *Lab) delNodeNet(n *nodeState) error {
	var first error
	if linkExists(n.Veth) {
		if err := run("ip", "link", "del", n.Veth); err != nil {
			first = err
		}
	}
	if isFile("/run/netns/" + n.NetNS) {
		if err := run("ip", "netns", "del", n.NetNS); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// Cut disconnects the node from the lab network the way a failed switch
// port would: its bridge port stops forwarding, its own link stays up (no
// carrier loss for the node to notice). The node reaches no other host, no
// host reaches it, the lab's host address included.
func (l *Lab) Cut(node string) error { return l.portState(node, 0, "cut") }

// Heal undoes Cut.
func (l *Lab) Heal(node string) error { return l.portState(node, 3, "heal") }

func (l *Lab) portState(node string, st int, what string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(node)
	if err != nil {
		return err
	}
	if !linkExists(n.Veth) {
		return fmt.Errorf("%s %s: it has no link (killed?)", what, node)
	}
	if err := run("bridge", "link", "set", "dev", n.Veth, "state", strconv.Itoa(st)); err != nil {
		return fmt.Errorf("%s %s: %w", what, node, err)
	}
	l.logf("%s: %s", n.Name, what)
	return nil
}

// nlHandle is a netlink socket opened in a node's network namespace.
type nlHandle struct {
	h     *netlink.Handle
	inode uint64 // of the namespace it was opened in
}

func (n *nodeState) closeNL() {
	n.nlMu.Lock()
	defer n.nlMu.Unlock()
	if n.nl != nil {
		n.nl.h.Close()
		n.nl = nil
	}
}

// Addrs lists the IPv4 addresses on the node's interfaces (loopback
// excluded), read by netlink in its namespace through a cached socket: cheap
// enough to poll every few milliseconds. A node that is down (killed) has no
// addresses: nil, nil.
func (l *Lab) Addrs(node string) ([]netip.Prefix, error) {
	n, err := l.node(node)
	if err != nil {
		return nil, err
	}
	path := "/run/netns/" + n.NetNS
	n.nlMu.Lock()
	defer n.nlMu.Unlock()
	inode := nsInode(path)
	if inode != 0 && !isNSFS(path) {
		// The namespace file exists but is not bound yet (a restart is
		// creating it): the node has no network at this instant.
		inode = 0
	}
	if inode == 0 {
		if n.nl != nil {
			n.nl.h.Close()
			n.nl = nil
		}
		return nil, nil
	}
	if n.nl == nil || n.nl.inode != inode {
		if n.nl != nil {
			n.nl.h.Close()
			n.nl = nil
		}
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return nil, fmt.Errorf("%s: namespace %s: %w", node, path, err)
		}
		h, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: netlink in %s: %w", node, path, err)
		}
		n.nl = &nlHandle{h: h, inode: inode}
	}
	list, err := n.nl.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("%s: listing addresses: %w", node, err)
	}
	var out []netip.Prefix
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok || ip.IsLoopback() {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip, ones))
	}
	return out, nil
}
