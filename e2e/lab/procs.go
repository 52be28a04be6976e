package lab

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc identifies a process across lab commands: a PID plus its start time
// (clock ticks since boot), so a recycled PID is never mistaken for it.
type proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// procInfo is what /proc/PID/stat says about a process.
type procInfo struct {
	ppid  int
	state byte
	start uint64
	comm  string
}

func readProc(pid int) (procInfo, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, err
	}
	// The command name is in parentheses and may hold spaces or ')'.
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(data[end+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procInfo{ppid: ppid, state: f[0][0], start: start, comm: string(data[open+1 : end])}, nil
}

// procOf returns the identity of a live process.
func procOf(pid int) (proc, bool) {
	pi, err := readProc(pid)
	if err != nil || pi.state == 'Z' {
		return proc{}, false
	}
	return proc{PID: pid, Start: pi.start}, true
}

// alive reports whether p still runs (a zombie does not).
func (p proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	pi, err := readProc(p.PID)
	return err == nil && pi.start == p.Start && pi.state != 'Z'
}

func (p proc) kill() {
	if p.alive() {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
}

// pids lists every process of the machine.
func pids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// nsInode is the inode of a namespace file (/proc/PID/ns/net, /run/netns/X):
// two files with the same inode are the same namespace.
func nsInode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// isNSFS says whether path is a bound namespace (nsfs), not the empty file
// a namespace is later bound onto.
func isNSFS(path string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(path, &st) == nil && st.Type == 0x6e736673 // NSFS_MAGIC
}

func procNS(pid int, kind string) uint64 {
	return nsInode("/proc/" + strconv.Itoa(pid) + "/ns/" + kind)
}

// containerInit finds the container's PID 1 among the children of the
// systemd-nspawn process: the child that runs systemd in a PID namespace of
// its own (nspawn's short-lived helper children do neither).
func containerInit(nspawn int) (proc, bool) {
	hostPidNS := procNS(os.Getpid(), "pid")
	for _, pid := range pids() {
		pi, err := readProc(pid)
		if err != nil || pi.ppid != nspawn || pi.state == 'Z' || pi.comm != "systemd" {
			continue
		}
		if ns := procNS(pid, "pid"); ns == 0 || ns == hostPidNS {
			continue
		}
		return proc{PID: pid, Start: pi.start}, true
	}
	return proc{}, false
}

// matchProcs lists live processes for which match(pid) is true.
func matchProcs(match func(pid int) bool) []int {
	var out []int
	self := os.Getpid()
	for _, pid := range pids() {
		if pid == self {
			continue
		}
		if pi, err := readProc(pid); err != nil || pi.state == 'Z' {
			continue
		}
		if match(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// cmdline returns a process's arguments.
func cmdline(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// killAndWait SIGKILLs every process match selects, again and again (a
// dying container may still fork), until none is left or the deadline.
func killAndWait(match func(pid int) bool, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		left := matchProcs(match)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still alive %s after SIGKILL", left, within)
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
