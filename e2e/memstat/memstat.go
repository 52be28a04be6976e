// Package memstat measures what a group of processes costs a machine in
// memory. Summing each process's RSS counts a page once per process that
// maps it (every process mapping one binary counts its pages again), so
// besides the sums it counts the distinct physical pages resident in any of
// the processes, from /proc/PID/pagemap (root only: page frame numbers are
// hidden from others).
package memstat

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Usage is the memory of a group of processes, in bytes.
type Usage struct {
	Procs int
	// RSS and Anon are the sums of VmRSS and RssAnon over the processes.
	RSS, Anon int64
	// Distinct counts every resident physical page once, however many of
	// the processes map it; DistinctAnon is the part that is anonymous
	// (heap, stacks), the rest is file pages (the binaries and libraries).
	Distinct, DistinctAnon int64
}

func (u Usage) String() string {
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
	return fmt.Sprintf("%d processes: %s resident counting each page once (%s anonymous, %s of binaries); RSS summed over processes %s",
		u.Procs, mb(u.Distinct), mb(u.DistinctAnon), mb(u.Distinct-u.DistinctAnon), mb(u.RSS))
}

// ErrNoPFN means the page frame numbers were hidden: not running as root.
var ErrNoPFN = errors.New("page frame numbers are hidden (reading /proc/PID/pagemap needs root)")

const (
	pagePresent = 1 << 63
	pageFile    = 1 << 61 // file page or shared anonymous
	pfnMask     = 1<<55 - 1
)

// Measure measures the processes pids. A process that exits meanwhile is
// left out.
func Measure(pids []int) (Usage, error) {
	var u Usage
	pageSize := int64(os.Getpagesize())
	seen := map[uint64]bool{}
	for _, pid := range pids {
		rss, anon, err := status(pid)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return u, err
		}
		pages, err := residentPages(pid)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return u, err
		}
		u.Procs++
		u.RSS += rss
		u.Anon += anon
		for pfn, file := range pages {
			if seen[pfn] {
				continue
			}
			seen[pfn] = true
			u.Distinct += pageSize
			if !file {
				u.DistinctAnon += pageSize
			}
		}
	}
	return u, nil
}

// status reads VmRSS and RssAnon, in bytes.
func status(pid int) (rss, anon int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "RssAnon") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			anon = kb << 10
		}
	}
	return rss, anon, sc.Err()
}

// residentPages maps the page frame number of every resident page of pid
// to whether it is a file page.
func residentPages(pid int) (map[uint64]bool, error) {
	ranges, err := mappings(pid)
	if err != nil {
		return nil, err
	}
	pm, err := os.Open("/proc/" + strconv.Itoa(pid) + "/pagemap")
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	pageSize := uint64(os.Getpagesize())
	out := map[uint64]bool{}
	var buf []byte
	for _, r := range ranges {
		n := (r[1] - r[0]) / pageSize
		if cap(buf) < int(n*8) {
			buf = make([]byte, n*8)
		}
		b := buf[:n*8]
		if _, err := pm.ReadAt(b, int64(r[0]/pageSize*8)); err != nil {
			return nil, fmt.Errorf("/proc/%d/pagemap: %w", pid, err)
		}
		for i := uint64(0); i < n; i++ {
			e := binary.LittleEndian.Uint64(b[i*8:])
			if e&pagePresent == 0 {
				continue
			}
			pfn := e & pfnMask
			if pfn == 0 {
				return nil, ErrNoPFN
			}
			out[pfn] = e&pageFile != 0
		}
	}
	return out, nil
}

// mappings lists the address ranges of pid that have resident pages.
func mappings(pid int) ([][2]uint64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][2]uint64
	var cur [2]uint64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if first, _, ok := strings.Cut(line, " "); ok && strings.Contains(first, "-") && !strings.HasSuffix(first, ":") {
			lo, hi, _ := strings.Cut(first, "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				cur = [2]uint64{a, b}
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && strings.TrimSpace(v) != "0 kB" {
			out = append(out, cur)
		}
	}
	return out, sc.Err()
}
