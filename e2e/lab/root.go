package lab

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Suite and Variant of the node root.
const (
	Suite   = "bookworm"
	Variant = "minbase"
)

//go:embed root-setup.sh
var rootSetup string

// Recipe is everything that decides the content of a node root. Its Hash
// names the cached root, so a changed package list or set-up script builds a
// new one and an unchanged recipe reuses the cache. The mirror is not part of
// it: any Debian mirror serves the same suite.
type Recipe struct {
	Suite, Variant string
	Packages       []string
	Setup          string // root-setup.sh
}

// LoadRecipe reads the package list of the repository's provisioning
// (vagrant/provision/packages, shared with the Vagrant lab).
func LoadRecipe(repoDir string) (Recipe, error) {
	path := filepath.Join(repoDir, provisionDir, "packages")
	pkgs, err := readPackages(path)
	if err != nil {
		return Recipe{}, err
	}
	return Recipe{Suite: Suite, Variant: Variant, Packages: pkgs, Setup: rootSetup}, nil
}

func readPackages(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("node package list: %w", err)
	}
	var pkgs []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, " \t,") {
			return nil, fmt.Errorf("%s:%d: %q: one package name per line", path, i+1, line)
		}
		pkgs = append(pkgs, line)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("%s: lists no package", path)
	}
	return pkgs, nil
}

// Hash identifies the recipe (12 hex digits of a SHA-256).
func (r Recipe) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "suite=%s\nvariant=%s\ninclude=%s\nsetup=\n%s", r.Suite, r.Variant, strings.Join(r.Packages, ","), r.Setup)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// RootDir is where the root of this recipe is cached under cacheDir.
func (r Recipe) RootDir(cacheDir string) string {
	return filepath.Join(cacheDir, "root-"+r.Hash())
}

// EnsureRoot returns the cached root of the recipe, building it first when
// it is missing. Builders of the same recipe (several labs coming up at once)
// wait for each other on a lock; the root appears by an atomic rename, so a
// crashed build leaves no half root behind. built tells whether it was built.
func EnsureRoot(ctx context.Context, r Recipe, cacheDir, mirror string, logf func(string, ...any)) (dir string, built bool, err error) {
	dir = r.RootDir(cacheDir)
	if isDir(dir) {
		return dir, false, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", false, err
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if isDir(dir) { // built by someone else while we waited
		return dir, false, nil
	}
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	_ = removeTree(tmp)
	// Leftovers of crashed builds of this recipe (their lock is free now).
	if olds, _ := filepath.Glob(dir + ".tmp-*"); len(olds) > 0 {
		for _, o := range olds {
			_ = removeTree(o)
		}
	}
	logPath := dir + ".log"
	logf("building node root %s (%s %s, %d packages) from %s; log in %s", filepath.Base(dir), r.Suite, r.Variant, len(r.Packages), mirror, logPath)
	start := time.Now()
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", false, err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant="+r.Variant,
		"--include="+strings.Join(r.Packages, ","), r.Suite, tmp, mirror)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = hostEnv()
	// Cancelling kills debootstrap's whole process group (dpkg runs below it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		_ = removeTree(tmp)
		return "", false, fmt.Errorf("debootstrap of the node root failed (%w); last lines of %s:\n%s", err, logPath, tail(logPath, 15))
	}
	setup := filepath.Join(tmp, "root-setup.sh")
	if err := os.WriteFile(setup, []byte(r.Setup), 0o755); err != nil {
		_ = removeTree(tmp)
		return "", false, err
	}
	cmd = exec.CommandContext(ctx, "chroot", tmp, "/bin/sh", "/root-setup.sh")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = hostEnv()
	if err := cmd.Run(); err != nil {
		_ = removeTree(tmp)
		return "", false, fmt.Errorf("root-setup.sh in the node root failed (%w); last lines of %s:\n%s", err, logPath, tail(logPath, 15))
	}
	_ = os.Remove(setup)
	if err := os.WriteFile(dir+".recipe", []byte(fmt.Sprintf("suite=%s variant=%s mirror=%s\ninclude=%s\n", r.Suite, r.Variant, mirror, strings.Join(r.Packages, ","))), 0o644); err != nil {
		_ = removeTree(tmp)
		return "", false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = removeTree(tmp)
		return "", false, err
	}
	logf("node root built in %s", time.Since(start).Round(100*time.Millisecond))
	pruneRoots(cacheDir, dir, logf)
	return dir, true, nil
}

// removeTree removes dir after unmounting whatever is mounted below it (an
// interrupted debootstrap leaves /proc and /sys mounted in its target); it
// refuses when something stays mounted.
func removeTree(dir string) error {
	for _, m := range mountsUnder(dir) {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
	if left := mountsUnder(dir); len(left) > 0 {
		return fmt.Errorf("not removing %s: still mounted: %s", dir, strings.Join(left, " "))
	}
	return os.RemoveAll(dir)
}

// pruneRoots removes roots of older recipes that no overlay uses any more,
// so a changed package list does not leave a root behind each time.
func pruneRoots(cacheDir, keep string, logf func(string, ...any)) {
	olds, _ := filepath.Glob(filepath.Join(cacheDir, "root-*"))
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	for _, o := range olds {
		if o == keep || !isDir(o) || strings.Contains(o, ".tmp-") || strings.Contains(string(mountinfo), "lowerdir="+o) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		unlock, err := lockFile(ctx, o+".lock") // no build of it runs
		cancel()
		if err != nil {
			continue
		}
		if err := removeTree(o); err == nil {
			_ = os.Remove(o + ".log")
			_ = os.Remove(o + ".recipe")
			logf("removed the unused node root %s", o)
		}
		unlock()
		_ = os.Remove(o + ".lock")
	}
}

// hostEnv is a clean environment for tools run on the host or in a chroot.
func hostEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// lockFile takes an exclusive flock on path, waiting until ctx is done.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s (another lab command holds it): %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of a file (for error messages).
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DefaultMirror is used when the machine's apt sources name none for the suite.
const DefaultMirror = "http://deb.debian.org/debian"

// AptMirror returns the first http(s) URI of aptDir's sources (one-line
// sources.list files and deb822 .sources files) that serves suite itself
// (not suite-updates or suite-security), or DefaultMirror.
func AptMirror(aptDir, suite string) string {
	files := []string{filepath.Join(aptDir, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*"))
	files = append(files, more...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		switch {
		case strings.HasSuffix(f, ".sources"):
			uri = mirrorDeb822(string(data), suite)
		case strings.HasSuffix(f, ".list"):
			uri = mirrorOneLine(string(data), suite)
		}
		if uri != "" {
			return uri
		}
	}
	return DefaultMirror
}

func mirrorOneLine(text, suite string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // options: [arch=amd64 signed-by=...]
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) >= 2 && f[1] == suite && isHTTP(f[0]) {
			return f[0]
		}
	}
	return ""
}

func mirrorDeb822(text, suite string) string {
	for _, stanza := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !strings.Contains(" "+fields["types"]+" ", " deb ") || fields["enabled"] == "no" {
			continue
		}
		serves := false
		for _, s := range strings.Fields(fields["suites"]) {
			serves = serves || s == suite
		}
		if !serves {
			continue
		}
		for _, u := range strings.Fields(fields["uris"]) {
			if isHTTP(u) {
				return u
			}
		}
	}
	return ""
}

func isHTTP(u string) bool {
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}
