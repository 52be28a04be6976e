package lab

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// cleanup removes everything of the lab prefix, whether or not its state
// file survived: it finds things by the names the prefix gives them.
func cleanup(stateDir, prefix string, logf func(string, ...any)) error {
	dash := prefix + "-"
	// 1. Processes: nspawns of the prefix's machines, and everything in its
	// machines' cgroups or network namespaces.
	nets := map[uint64]bool{}
	nsNames, _ := filepath.Glob("/run/netns/" + dash + "*")
	for _, p := range nsNames {
		if ino := nsInode(p); ino != 0 {
			nets[ino] = true
		}
	}
	var errs []error
	killed := matchProcs(func(pid int) bool { return ofPrefix(pid, dash, nets) })
	if err := killAndWait(func(pid int) bool { return ofPrefix(pid, dash, nets) }, 10*time.Second); err != nil {
		errs = append(errs, err)
	}
	// 2. Links: the veths and the bridge are all named "<prefix>-...".
	links, _ := netlink.LinkList()
	var bridges []string
	removed := 0
	for _, lk := range links {
		name := lk.Attrs().Name
		if !strings.HasPrefix(name, dash) {
			continue
		}
		if lk.Type() == "bridge" {
			bridges = append(bridges, name)
			continue
		}
		if err := run("ip", "link", "del", name); err != nil && linkExists(name) {
			errs = append(errs, err)
		}
		removed++
	}
	for _, name := range bridges {
		if err := run("ip", "link", "del", name); err != nil && linkExists(name) {
			errs = append(errs, err)
		}
		removed++
	}
	// 3. Network namespaces.
	for _, p := range nsNames {
		if err := run("ip", "netns", "del", filepath.Base(p)); err != nil && isFile(p) {
			errs = append(errs, err)
		}
	}
	// 4. Cgroups of the machines.
	for _, r := range cgroupRoots() {
		cgs, _ := filepath.Glob(filepath.Join(r, cgroupBase, dash+"*"))
		for _, cg := range cgs {
			if err := removeCgroup(cg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// 5. Mounts (the nodes' overlay roots), then the state directory, which
	// is only removed when nothing is mounted below it any more.
	dir := filepath.Join(stateDir, prefix)
	mounts := mountsUnder(dir)
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	if left := mountsUnder(dir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("still mounted, not removing %s: %s", dir, strings.Join(left, " ")))
	} else if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if len(killed)+removed+len(nsNames)+len(mounts) > 0 {
		logf("lab %s: removed %d processes, %d links, %d namespaces, %d mounts", prefix, len(killed), removed, len(nsNames), len(mounts))
	}
	return errors.Join(errs...)
}

// ofPrefix reports whether pid belongs to a machine of the prefix.
func ofPrefix(pid int, dash string, nets map[uint64]bool) bool {
	if len(nets) > 0 && nets[procNS(pid, "net")] {
		return true
	}
	args := cmdline(pid)
	if len(args) > 0 && filepath.Base(args[0]) == "systemd-nspawn" {
		for _, a := range args {
			if strings.HasPrefix(a, "--machine="+dash) {
				return true
			}
		}
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	return err == nil && strings.Contains(string(data), "/"+cgroupBase+"/"+dash)
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func isMounted(dir string) bool {
	for _, m := range mountsUnder(dir) {
		if m == dir {
			return true
		}
	}
	return false
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isFile(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
