package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// inNetnsEnv marks the copy of this command run inside the namespace.
const inNetnsEnv = "TANDEM_SCALE_BENCH_NETNS"

// netnsPortRange are the ephemeral ports inside the namespace: above
// every member's port (--port-base 40000 takes at most 40000-44999 here).
const netnsPortRange = "50000 60999"

// inNetns creates network namespace name (its loopback up, its ephemeral
// ports from 50000 up), runs this command again inside it, then kills
// whatever is left in it and deletes it. It returns the exit code.
func inNetns(name string) int {
	run := func(args ...string) error {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("ip", "netns", "add", name); err != nil {
		fmt.Fprintf(os.Stderr, "scale-bench: --netns %s: %v (as root; delete a namespace left behind with ip netns del %s)\n", name, err, name)
		return 2
	}
	defer func() {
		killNetns(name)
		if err := run("ip", "netns", "del", name); err != nil {
			fmt.Fprintf(os.Stderr, "scale-bench: %v\n", err)
		}
	}()
	for _, args := range [][]string{
		{"ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"},
		{"ip", "netns", "exec", name, "sh", "-c", "echo " + netnsPortRange + " > /proc/sys/net/ipv4/ip_local_port_range"},
	} {
		if err := run(args...); err != nil {
			fmt.Fprintf(os.Stderr, "scale-bench: --netns %s: %v\n", name, err)
			return 2
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "scale-bench: %v\n", err)
		return 2
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", name, self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), inNetnsEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "scale-bench: %v\n", err)
		return 2
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	if err := cmd.Wait(); err != nil {
		if x, ok := err.(*exec.ExitError); ok {
			return x.ExitCode()
		}
		return 1
	}
	return 0
}

// killNetns kills every process left in namespace name.
func killNetns(name string) {
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// ephemeralPorts is this host's (this namespace's) range of ephemeral
// ports, net.ipv4.ip_local_port_range.
func ephemeralPorts() (lo, hi int, ok bool) {
	return parsePortRange(readFile("/proc/sys/net/ipv4/ip_local_port_range"))
}

// parsePortRange reads ip_local_port_range's "LOW<TAB>HIGH".
func parsePortRange(s string) (lo, hi int, ok bool) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}
