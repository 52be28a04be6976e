package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Directories of one node under the lab's state directory: upper and work
// of its overlay, and root, where the overlay is mounted.
func (l *Lab) nodeDir(n *nodeState) string { return filepath.Join(l.dir, n.Name) }
func (l *Lab) upper(n *nodeState) string   { return filepath.Join(l.nodeDir(n), "upper") }
func (l *Lab) rootfs(n *nodeState) string  { return filepath.Join(l.nodeDir(n), "root") }

// prepareRoot mounts the node's overlay (lower: the cached root; upper: the
// node's own writable layer) and runs the shared provisioning script in it.
func (l *Lab) prepareRoot(ctx context.Context, n *nodeState) error {
	dir := l.nodeDir(n)
	work := filepath.Join(dir, "work")
	for _, d := range []string{l.upper(n), work, l.rootfs(n)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", l.st.Root, l.upper(n), work)
	if err := syscall.Mount("overlay", l.rootfs(n), "overlay", 0, opts); err != nil {
		return fmt.Errorf("%s: mounting the overlay root at %s: %w", n.Name, l.rootfs(n), err)
	}
	root := l.rootfs(n)
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte(n.MachineID+"\n"), 0o444); err != nil {
		return err
	}
	// The provisioning script, its package list, the cluster file and the
	// secret go to a scratch directory of the node, removed afterwards.
	scratch := filepath.Join(root, "tmp/tandem-provision")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	files := map[string]string{
		filepath.Join(l.st.RepoDir, provisionDir, "node.sh"):  "node.sh",
		filepath.Join(l.st.RepoDir, provisionDir, "packages"): "packages",
		l.st.Config: "cluster.toml",
		l.st.Key:    "cluster.key",
	}
	if l.Packaged() {
		files[l.st.Package] = "tandem.deb"
	}
	for src, dst := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(scratch, dst), data, 0o600); err != nil {
			return err
		}
	}
	if err := l.MemberPKI(n.Name, filepath.Join(scratch, "pki")); err != nil {
		return err
	}
	in := "/tmp/tandem-provision/"
	role := "node"
	if n.Witness {
		role = "witness"
	}
	args := []string{root, "/bin/sh", in + "node.sh", "--offline", "--name", n.Name, "--role", role,
		"--address", n.Addr.String(), "--config", in + "cluster.toml", "--pki", in + "pki", "--key", in + "cluster.key",
		"--key-path", l.cfg.Topology.Credentials}
	for _, m := range l.st.Nodes {
		args = append(args, "--member", m.Name+"="+m.Addr.String())
	}
	if l.Packaged() {
		args = append(args, "--deb", in+"tandem.deb")
	}
	if l.st.StartTandem {
		args = append(args, "--start-tandem")
	}
	cmd := exec.CommandContext(ctx, "chroot", args...)
	// SYSTEMD_OFFLINE: systemctl only edits unit links, never calls a manager.
	cmd.Env = append(hostEnv(), "SYSTEMD_OFFLINE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: vagrant/provision/node.sh in the node root: %w\n%s", n.Name, err, out)
	}
	return nil
}

// cgroupRoots are the host's cgroup hierarchies a container's systemd uses:
// the unified one, and the named v1 "systemd" hierarchy on hybrid hosts.
func cgroupRoots() []string {
	var out []string
	for _, d := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"} {
		if isDir(d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			out = append(out, "/sys/fs/cgroup")
		}
	}
	return out
}

// cgroupBase is the sub-tree holding one cgroup per lab machine: each
// container needs its own, or two containers' systemds would share (and
// kill) each other's service cgroups.
const cgroupBase = "tandem-lab"

func machineCgroups(machine string) []string {
	var out []string
	for _, r := range cgroupRoots() {
		out = append(out, filepath.Join(r, cgroupBase, machine))
	}
	return out
}

// start boots the node: network namespace and veth, then systemd-nspawn in
// a cgroup of its own, detached from the caller (the lab command may exit).
func (l *Lab) start(ctx context.Context, n *nodeState) error {
	if err := l.addNodeNet(n); err != nil {
		return err
	}
	if err := os.MkdirAll("/run/systemd", 0o755); err != nil { // nspawn needs it on a host without systemd
		return err
	}
	cgs := machineCgroups(n.Machine)
	for _, cg := range cgs {
		_ = removeCgroup(cg) // a killed node's old one
		if err := os.MkdirAll(cg, 0o755); err != nil {
			return fmt.Errorf("%s: cgroup %s: %w", n.Name, cg, err)
		}
	}
	// A shell puts itself in the machine's cgroups, then becomes nspawn: no
	// window in which the container could start elsewhere.
	script := `for cg in ` + strings.Join(cgs, " ") + `; do echo $$ >"$cg/cgroup.procs" || exit 1; done; exec systemd-nspawn "$@"`
	args := []string{"-c", script, "sh",
		"--quiet", "--boot", "--directory=" + l.rootfs(n), "--machine=" + n.Machine, "--hostname=" + n.Name,
		"--register=no", "--keep-unit", "--link-journal=no", "--console=read-only",
		"--resolv-conf=off", "--timezone=off",
		"--network-namespace-path=/run/netns/" + n.NetNS,
		// The VIP plugin adds addresses: nspawn does not grant CAP_NET_ADMIN
		// with --network-namespace-path by default.
		"--capability=CAP_NET_ADMIN",
	}
	if !l.Packaged() {
		args = append(args, "--bind-ro="+l.st.BinDir+":"+NodeBinDir)
	}
	console, err := os.OpenFile(filepath.Join(l.nodeDir(n), "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = console, console
	cmd.Env = hostEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: starting systemd-nspawn: %w", n.Name, err)
	}
	nspawn, _ := procOf(cmd.Process.Pid)
	go func() { _ = cmd.Wait() }() // reap it when this process outlives it
	n.Nspawn = nspawn
	n.Running = true
	// The container's init is nspawn's child running systemd.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if init, ok := containerInit(nspawn.PID); ok {
			n.Init = init
			n.PidNS = procNS(init.PID, "pid")
			break
		}
		if !nspawn.alive() || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: systemd-nspawn did not start the container's systemd; console:\n%s", n.Name, tail(filepath.Join(l.nodeDir(n), "console.log"), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.logf("%s: booting (machine %s, init pid %d, %s on %s)", n.Name, n.Machine, n.Init.PID, n.Addr, n.Veth)
	return nil
}

// waitAll waits until every node's systemd has finished booting.
func (l *Lab) waitAll(ctx context.Context, nodes []*nodeState) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.waitBooted(ctx, n, n.Init)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitBooted polls `systemctl is-system-running --wait` in the node until it
// says running or degraded, or ctx ends.
// init is the container's init at boot: n itself may change meanwhile (a
// Kill from another goroutine), so it is not read here.
func (l *Lab) waitBooted(ctx context.Context, n *nodeState, init proc) error {
	start := time.Now()
	last := ""
	for {
		if !init.alive() {
			return fmt.Errorf("%s: the container died while booting; console:\n%s", n.Name, tail(filepath.Join(l.nodeDir(n), "console.log"), 20))
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, _ := execIn(cctx, init, "systemctl", "is-system-running", "--wait")
		cancel()
		lines := strings.Fields(out)
		if len(lines) > 0 {
			last = lines[len(lines)-1]
		}
		switch last {
		case "running":
			l.logf("%s: systemd running after %s", n.Name, time.Since(start).Round(10*time.Millisecond))
			return nil
		case "degraded":
			failed, _ := execIn(ctx, init, "systemctl", "--failed", "--no-legend", "--plain")
			l.logf("%s: systemd degraded after %s; failed units: %s", n.Name, time.Since(start).Round(10*time.Millisecond), strings.Join(strings.Fields(failed), " "))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: systemd not up (last state %q) when the deadline came: %w; console:\n%s", n.Name, last, ctx.Err(), tail(filepath.Join(l.nodeDir(n), "console.log"), 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Exec runs argv inside the node (all of its namespaces, as root, with a
// clean environment, no TTY) and returns its combined output. A non-zero
// exit is an error naming the node, the command and the exit status.
func (l *Lab) Exec(ctx context.Context, node string, argv ...string) (string, error) {
	l.mu.Lock()
	n, err := l.node(node)
	var init proc
	if err == nil {
		init = n.Init
		if !n.Running || !init.alive() {
			err = fmt.Errorf("lab host %s is not running", node)
		}
	}
	l.mu.Unlock()
	if err != nil {
		return "", err
	}
	if len(argv) == 0 {
		return "", errors.New("lab exec: no command")
	}
	out, err := execIn(ctx, init, argv...)
	if err != nil {
		return out, fmt.Errorf("%s: %s: %w: %s", node, strings.Join(argv, " "), err, strings.TrimSpace(lastLines(out, 10)))
	}
	return out, nil
}

func execIn(ctx context.Context, init proc, argv ...string) (string, error) {
	args := append([]string{"--target", strconv.Itoa(init.PID), "--all", "--",
		"/usr/bin/env", "-i", "PATH=" + nodePath, "LANG=C.UTF-8", "HOME=/root", "TERM=dumb", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	// A command that leaves a child holding the output open must not hang us.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Kill kills the node hard, as a power cut would: the container's init and
// the nspawn supervisor get SIGKILL together (the kernel then kills every
// process of the container's PID namespace), whatever is left in the
// machine's cgroups or network namespace is killed too, and the node's
// network goes away (veth and namespace), so nothing answers for its
// addresses any more. Its writable layer and journal stay for Restart and
// Journal.
func (l *Lab) Kill(node string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(node)
	if err != nil {
		return err
	}
	err = l.kill(n)
	if serr := l.save(); err == nil {
		err = serr
	}
	return err
}

func (l *Lab) kill(n *nodeState) error {
	netInode := nsInode("/run/netns/" + n.NetNS)
	// A frozen machine is thawed first: its processes then die at once
	// instead of on thaw.
	for _, cg := range machineCgroups(n.Machine) {
		_ = os.WriteFile(filepath.Join(cg, "cgroup.freeze"), []byte("0"), 0o644)
	}
	n.Init.kill()
	n.Nspawn.kill()
	// The network goes at once too: a dying process must not answer for
	// the node's addresses (or a VIP) any more.
	n.Running = false
	n.closeNL()
	err := l.delNodeNet(n)
	if kerr := killAndWait(func(pid int) bool {
		return (n.PidNS != 0 && procNS(pid, "pid") == n.PidNS) ||
			(netInode != 0 && procNS(pid, "net") == netInode) ||
			inMachineCgroup(pid, n.Machine) || isNspawnOf(pid, n.Machine)
	}, 10*time.Second); kerr != nil {
		err = kerr
	}
	for _, cg := range machineCgroups(n.Machine) {
		if cerr := removeCgroup(cg); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("killing %s: %w", n.Name, err)
	}
	l.logf("%s: killed", n.Name)
	return nil
}

// inMachineCgroup reports whether pid is in the machine's cgroup sub-tree.
func inMachineCgroup(pid int, machine string) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	mark := "/" + cgroupBase + "/" + machine
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, mark); i >= 0 {
			rest := line[i+len(mark):]
			if rest == "" || rest[0] == '/' {
				return true
			}
		}
	}
	return false
}

// isNspawnOf reports whether pid is a systemd-nspawn of the machine.
func isNspawnOf(pid int, machine string) bool {
	args := cmdline(pid)
	if len(args) == 0 || filepath.Base(args[0]) != "systemd-nspawn" {
		return false
	}
	for _, a := range args {
		if a == "--machine="+machine {
			return true
		}
	}
	return false
}

// removeCgroup removes a cgroup directory and its children, deepest first
// (the container's systemd creates a tree inside). Missing is fine.
func removeCgroup(dir string) error {
	if !isDir(dir) {
		return nil
	}
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var last error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			last = fmt.Errorf("removing cgroup %s: %w", dirs[i], err)
		}
	}
	return last
}

// Restart boots the node again (after Kill; a running node is killed first)
// and waits until its systemd is up.
func (l *Lab) Restart(ctx context.Context, node string) error {
	init, err := l.reboot(ctx, node)
	if err != nil {
		return err
	}
	n, _ := l.node(node)
	// Without the lock: the other hosts stay usable while this one boots.
	return l.waitBooted(ctx, n, init)
}

// reboot kills the node if it runs and starts it again; it returns the new
// container's init.
func (l *Lab) reboot(ctx context.Context, node string) (proc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(node)
	if err != nil {
		return proc{}, err
	}
	if n.Running || n.Init.alive() {
		if err := l.kill(n); err != nil {
			return proc{}, err
		}
	}
	if !isMounted(l.rootfs(n)) {
		return proc{}, fmt.Errorf("%s: its root %s is not mounted any more (lab torn down?)", n.Name, l.rootfs(n))
	}
	err = l.start(ctx, n)
	if serr := l.save(); err == nil {
		err = serr
	}
	return n.Init, err
}

// Journal returns the node's whole persistent journal, read from its
// writable layer on the host, so it works after a hard kill too.
func (l *Lab) Journal(node string) string {
	n, err := l.node(node)
	if err != nil {
		return err.Error()
	}
	dir := filepath.Join(l.upper(n), "var/log/journal", n.MachineID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "journalctl", "--directory="+dir, "--no-pager", "--quiet", "-o", "short-precise").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("journalctl --directory=%s: %v\n%s\nconsole (last lines):\n%s", dir, err, out, tail(filepath.Join(l.nodeDir(n), "console.log"), 40))
	}
	return string(out)
}

// SaveJournals writes header and the journals of nodes (every node of
// the lab when none is named) to path: what a benchmark keeps of a run
// worth a look, since the lab goes when it ends.
func (l *Lab) SaveJournals(path, header string, nodes ...string) error {
	if len(nodes) == 0 {
		nodes = l.Names()
	}
	var text strings.Builder
	text.WriteString(header + "\n")
	for _, node := range nodes {
		fmt.Fprintf(&text, "\n==== %s\n%s", node, l.Journal(node))
	}
	return os.WriteFile(path, []byte(text.String()), 0o644)
}

// Freeze stops every process of the node at once, as a hung userland or a
// paused VM does, with the cgroup v2 freezer on the machine's cgroup: its
// kernel runs on, so its links stay up and its addresses (a VIP too) keep
// answering ARP until something removes them. Thaw resumes it. A frozen
// node can still be killed.
func (l *Lab) Freeze(node string) error { return l.setFrozen(node, true) }

// Thaw resumes a node Freeze stopped.
func (l *Lab) Thaw(node string) error { return l.setFrozen(node, false) }

func (l *Lab) setFrozen(node string, frozen bool) error {
	l.mu.Lock()
	n, err := l.node(node)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	cg := ""
	for _, c := range machineCgroups(n.Machine) {
		if _, err := os.Stat(filepath.Join(c, "cgroup.freeze")); err == nil {
			cg = c
		}
	}
	if cg == "" {
		return fmt.Errorf("%s: no cgroup v2 freezer for machine %s (cgroup.freeze in %v)", node, n.Machine, machineCgroups(n.Machine))
	}
	v, word := "0", "thawed"
	if frozen {
		v, word = "1", "frozen"
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.freeze"), []byte(v), 0o644); err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	// The kernel reports "frozen 1" in cgroup.events once every task
	// stopped (thawing is immediate).
	err = poll.Wait(5*time.Second, 5*time.Millisecond, func() error {
		ev, err := os.ReadFile(filepath.Join(cg, "cgroup.events"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(ev), "frozen "+v) {
			return fmt.Errorf("not %s: %s", word, strings.Join(strings.Fields(string(ev)), " "))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	l.logf("%s: %s", node, word)
	return nil
}
