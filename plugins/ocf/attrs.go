package ocf

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A promotable agent says where it wants to be promoted with crm_master or
// crm_attribute (ocf_promotion_score in ocf-shellfuncs): a node attribute
// "master-<resource>" in Pacemaker's attribute daemon. There is no such
// daemon here. The bridge puts its own crm_master, crm_attribute and
// crm_node first in the agent's PATH, and names their directory
// HA_SBIN_DIR (ocf_promotion_score runs $HA_SBIN_DIR/crm_attribute): a
// small sh script that keeps the node's attributes as files,
// ATTRS/<node>/<name>, and answers queries from them. After a monitor the
// bridge reads master-<resource> of the node and hands it to the host as
// the monitor's promotion score, as the SDK's promotable plugins do.
//
// ATTRS (StateDir) outlives the plugin's process, so that a score an agent
// set in its start or promote (Stateful sets it nowhere else) is still
// known after the plugin restarts; it lives under /run for root, so a
// reboot clears it, as it clears Pacemaker's reboot-lifetime attributes.

// shimScript is crm_attribute, crm_master and crm_node (by argv[0]).
const shimScript = `#!/bin/sh
# crm_attribute, crm_master and crm_node for OCF agents run by Tandem's OCF
# bridge: node attributes are files under $TANDEM_OCF_ATTRS/<node>/<name>;
# the bridge reads the promotion score (master-<resource>) from there.
me=${0##*/}
node=${OCF_RESKEY_CRM_meta_on_node:-$(uname -n)}
if [ "$me" = crm_node ]; then
	case "$1" in
	-n|--name) echo "$node"; exit 0 ;;
	esac
	echo "crm_node (Tandem OCF bridge): only -n (this node's name) is supported" >&2
	exit 64
fi
if [ -z "$TANDEM_OCF_ATTRS" ]; then
	echo "$me (Tandem OCF bridge): TANDEM_OCF_ATTRS is not set" >&2
	exit 1
fi
name= value= op= quiet= default= havedefault= promo=
rsc=$OCF_RESOURCE_INSTANCE
[ "$me" = crm_master ] && promo=1
while [ $# -gt 0 ]; do
	a=$1
	shift
	case "$a" in
	--promotion=*) promo=1; rsc=${a#*=}; continue ;;
	--*=*) set -- "${a#*=}" "$@"; a=${a%%=*} ;;
	esac
	case "$a" in
	-v|--update|--attr-value) [ $# -gt 0 ] || { echo "$me: $a needs a value" >&2; exit 64; }; value=$1; op=set; shift ;;
	-D|--delete|--delete-attr) op=delete ;;
	-G|--query|--get-value) op=get ;;
	-q|-Q|--quiet) quiet=1 ;;
	-p|--promotion) promo=1 ;;
	-n|--name|--attr-name) name=$1; shift ;;
	-N|--node) node=$1; shift ;;
	-r|--resource|--rsc-id) rsc=$1; shift ;;
	-d|--default) default=$1; havedefault=1; shift ;;
	-l|--lifetime|-t|--type|-i|--id|-s|--set-name) shift ;;
	*) echo "$me (Tandem OCF bridge): option $a is not supported" >&2; exit 64 ;;
	esac
done
if [ -n "$promo" ]; then
	name=master-$rsc
fi
case "$name/$node" in
/*|*/) echo "$me: no attribute name (-n) or node" >&2; exit 64 ;;
.*|*/.*|*/*/*) echo "$me: attribute name $name or node $node cannot be a file name" >&2; exit 64 ;;
esac
dir=$TANDEM_OCF_ATTRS/$node
case "$op" in
set)
	mkdir -p "$dir" || exit 1
	printf '%s\n' "$value" > "$dir/.$name.$$" && mv -f "$dir/.$name.$$" "$dir/$name" || exit 1 ;;
delete) rm -f "$dir/$name" || exit 1 ;;
get)
	if [ -f "$dir/$name" ]; then
		v=$(cat "$dir/$name")
	elif [ -n "$havedefault" ]; then
		v=$default
	else
		echo "Error performing operation: No such device or address" >&2
		exit 105
	fi
	if [ -n "$quiet" ]; then echo "$v"; else echo "scope=status  name=$name value=$v"; fi ;;
*) echo "$me: nothing to do (-v VALUE, -D or -G)" >&2; exit 64 ;;
esac
exit 0
`

// shimNames are the commands the shim answers to.
var shimNames = []string{"crm_attribute", "crm_master", "crm_node"}

// attrStore is the node attributes' directory and the shim's.
type attrStore struct {
	once sync.Once
	dir  string // ATTRS
	bin  string // the shim's directory, first in the agent's PATH
	err  error
}

// DefaultStateDir is the bridge's state directory when the plugin runs as
// root; others get one in the temporary directory, by user id.
const DefaultStateDir = "/run/tandem-ocf"

func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return DefaultStateDir
	}
	return filepath.Join(os.TempDir(), "tandem-ocf-"+strconv.Itoa(os.Geteuid()))
}

// setup makes the store's directories (the plugin's own: not a link,
// owned by the plugin's user, 0700) and writes the shim, once; a failure
// is logged once, and the agents then run without the shim.
func (st *attrStore) setup(stateDir string) {
	st.once.Do(func() {
		if stateDir == "" {
			stateDir = defaultStateDir()
		}
		if st.err = st.install(stateDir); st.err != nil {
			st.dir, st.bin = "", ""
			slog.Warn("no crm_attribute/crm_master for the agents: promotion scores cannot be reported", "err", st.err)
		}
	})
}

func (st *attrStore) install(stateDir string) error {
	if err := privateDir(stateDir); err != nil {
		return err
	}
	st.dir, st.bin = filepath.Join(stateDir, "attrs"), filepath.Join(stateDir, "bin")
	for _, d := range []string{st.dir, st.bin} {
		if err := privateDir(d); err != nil {
			return err
		}
	}
	// Another bridge process may install the same shim at the same time
	// (an old plugin process still draining, or two nodes' bridges on one
	// machine in the tests): each writes a temporary file of its own and
	// renames it into place, and a link the other made is kept.
	main := filepath.Join(st.bin, shimNames[0])
	tmp, err := os.CreateTemp(st.bin, "."+shimNames[0]+".*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(shimScript)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), main)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	for _, n := range shimNames[1:] {
		link := filepath.Join(st.bin, n)
		if t, err := os.Readlink(link); err == nil && t == shimNames[0] {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(shimNames[0], link); err != nil {
			if t, rerr := os.Readlink(link); rerr == nil && t == shimNames[0] {
				continue // made by the other process meanwhile
			}
			return err
		}
	}
	return nil
}

// privateDir makes dir, or checks the one there is: a directory, not a
// link, owned by this process's user, writable by it alone.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("state directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("state directory %s is not a directory (a link?)", dir)
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("state directory %s belongs to uid %d, not to this plugin's (%d)", dir, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("state directory %s is writable by others (%s)", dir, fi.Mode().Perm())
	}
	return nil
}

// env is what the agent's environment gets for the shim: it first in
// PATH (prepended by the caller), HA_SBIN_DIR and TANDEM_OCF_ATTRS.
func (st *attrStore) env() []string {
	if st.err != nil || st.bin == "" {
		return nil
	}
	return []string{"HA_SBIN_DIR=" + st.bin, "TANDEM_OCF_ATTRS=" + st.dir}
}

// maxScore is the score INFINITY stands for (Pacemaker's).
const maxScore = 1000000

// promotionScore is the score the agents of resource id set on node
// (master-<id>); nil when none is set.
func (st *attrStore) promotionScore(node, id string) *int {
	if st.err != nil || st.dir == "" || strings.ContainsRune(node, '/') || strings.ContainsRune(id, '/') {
		return nil
	}
	path := filepath.Join(st.dir, node, "master-"+id)
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("promotion score unreadable", "path", path, "err", err)
		}
		return nil
	}
	v := strings.TrimSpace(string(b))
	var s int
	switch strings.ToUpper(strings.TrimPrefix(v, "+")) {
	case "INFINITY":
		s = maxScore
	case "-INFINITY":
		s = -maxScore
	default:
		n, err := strconv.Atoi(v)
		if err != nil {
			slog.Warn("promotion score is not a number: ignored", "resource", id, "node", node, "value", v)
			return nil
		}
		s = max(min(n, maxScore), -maxScore)
	}
	return &s
}
