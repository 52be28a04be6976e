package sdk

import (
	"fmt"
	"os"
	"syscall"
)

// CheckTrusted is nil when path (a file tandem runs as root: a plugin, the
// HAProxy binary; or the directory holding one) could only have been put
// there by root: owned by root and writable by no one else. When this
// process does not run as root it can gain nothing from a root-owned file,
// so a file owned by its own user is accepted too (tests, an unprivileged
// lab). Symbolic links are followed: the file they lead to is checked.
func CheckTrusted(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot read its owner", path)
	}
	euid := os.Geteuid()
	if sys.Uid != 0 && (euid == 0 || int(sys.Uid) != euid) {
		want := "root"
		if euid != 0 {
			want = fmt.Sprintf("root or uid %d (this process)", euid)
		}
		return fmt.Errorf("%s is owned by uid %d, want %s: whoever owns it can make tandem run anything (chown root %s)", path, sys.Uid, want, path)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s is writable by its group or others (mode %04o): anyone who can write it can make tandem run anything (chmod go-w %s)", path, perm, path)
	}
	return nil
}
