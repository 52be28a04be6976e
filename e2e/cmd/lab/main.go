// Command lab drives the nspawn lab (package e2e/lab) from a shell:
//
//	go run ./e2e/cmd/lab up [--start-tandem]   # the reference lab: e2e/cluster.toml, prefix tandem
//	go run ./e2e/cmd/lab status
//	go run ./e2e/cmd/lab exec holly systemctl start apache2
//	go run ./e2e/cmd/lab kill benji | restart benji | cut holly | heal holly
//	go run ./e2e/cmd/lab journal benji
//	go run ./e2e/cmd/lab down
//	go run ./e2e/cmd/lab root                  # only build the cached node root (CI warm-up)
//
// Every command takes --prefix (default tandem); up also takes --config,
// --subnet, --relocate, --bin and --timeout. Run it as root.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
)

const usage = `usage: lab [flags] COMMAND [ARGS]

commands:
  up                     build/reuse the node root and boot every member of the cluster file
  down                   tear the lab down (idempotent; also removes leftovers of a crash)
  status                 members, addresses, running or not
  exec NODE CMD [ARG...] run a command inside a node, print its output
  kill NODE              kill a node hard (all its processes at once, its network gone)
  restart NODE           boot a node again (after kill)
  cut NODE | heal NODE   disconnect a node from the lab network / reconnect it
  freeze NODE | thaw NODE  stop every process of a node at once (its kernel runs on) / resume them
  journal NODE           print a node's journal (works after kill too)
  start-tandem NODE | stop-tandem NODE
  root                   build (or find) the cached node root only, print its path

flags (before the command):
`

func main() {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	prefix := fs.String("prefix", lab.ReferencePrefix, "lab name prefix (names bridge, namespaces, veths, machines)")
	subnet := fs.String("subnet", lab.ReferenceSubnet.String(), "the lab's sub-range of 198.18.0.0/24 (up)")
	cfg := fs.String("config", "", "cluster file (up; default <repo>/e2e/cluster.toml)")
	relocate := fs.Bool("relocate", false, "move the cluster file's 198.18.0.0/27 addresses into --subnet (up)")
	bin := fs.String("bin", "", "directory of tandem and tandem-plugin-* (up; default $TANDEM_BIN or <repo>/bin)")
	startTandem := fs.Bool("start-tandem", false, "enable tandem.service in every member, so it runs from boot (up)")
	timeout := fs.Duration("timeout", lab.DefaultTimeout, "deadline of the whole command, node root build excluded")
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	args := fs.Args()
	if len(args) == 0 {
		fs.Usage()
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "lab: run as root (it creates network namespaces, bridges, mounts and containers)")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s lab: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
	err := runCmd(ctx, args, *prefix, *subnet, *cfg, *relocate, *bin, *startTandem, *timeout, logf)
	if errors.Is(err, errUsage) {
		fs.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func runCmd(ctx context.Context, args []string, prefix, subnet, cfg string, relocate bool, bin string, startTandem bool, timeout time.Duration, logf func(string, ...any)) error {
	cmd, args := args[0], args[1:]
	needNode := func() (string, error) {
		if len(args) < 1 {
			return "", fmt.Errorf("%s needs a NODE argument: %w", cmd, errUsage)
		}
		return args[0], nil
	}
	switch cmd {
	case "up":
		sn, err := netip.ParsePrefix(subnet)
		if err != nil {
			return fmt.Errorf("--subnet %q: %w", subnet, err)
		}
		l, err := lab.Up(ctx, lab.Options{Prefix: prefix, Subnet: sn, Config: cfg, Relocate: relocate,
			BinDir: bin, StartTandem: startTandem, Timeout: timeout, Logf: logf})
		if err != nil {
			return err
		}
		printStatus(l)
		fmt.Printf("\nThe lab keeps running. Tear it down with: go run ./e2e/cmd/lab --prefix %s down\n", prefix)
		return nil
	case "down":
		return lab.Cleanup(prefix)
	case "root":
		o, err := lab.Options{Prefix: prefix, BinDir: bin}.Defaults()
		if err != nil {
			return err
		}
		r, err := lab.LoadRecipe(o.RepoDir)
		if err != nil {
			return err
		}
		dir, _, err := lab.EnsureRoot(ctx, r, o.CacheDir, o.Mirror, logf)
		if err != nil {
			return err
		}
		fmt.Println(dir)
		return nil
	}
	l, err := lab.Open(prefix, "")
	if err != nil {
		return err
	}
	l.SetLogf(logf)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch cmd {
	case "status":
		printStatus(l)
		return nil
	case "exec":
		if len(args) < 2 {
			return fmt.Errorf("exec needs NODE and a command: %w", errUsage)
		}
		out, err := l.Exec(ctx, args[0], args[1:]...)
		fmt.Print(out)
		return err
	case "kill", "restart", "cut", "heal", "freeze", "thaw", "journal", "start-tandem", "stop-tandem":
		node, err := needNode()
		if err != nil {
			return err
		}
		switch cmd {
		case "kill":
			return l.Kill(node)
		case "restart":
			return l.Restart(ctx, node)
		case "cut":
			return l.Cut(node)
		case "heal":
			return l.Heal(node)
		case "freeze":
			return l.Freeze(node)
		case "thaw":
			return l.Thaw(node)
		case "journal":
			fmt.Print(l.Journal(node))
			return nil
		case "start-tandem":
			return l.StartTandem(ctx, node)
		default:
			return l.StopTandem(ctx, node)
		}
	}
	return fmt.Errorf("unknown command %q: %w", cmd, errUsage)
}

func printStatus(l *lab.Lab) {
	fmt.Printf("lab %s: subnet %s, host %s on %s, cluster file %s\n", l.Prefix(), l.Subnet(), l.BridgeAddr(), l.BridgeName(), l.ConfigFile())
	for _, m := range l.Members() {
		role := "node"
		if m.Witness {
			role = "witness"
		}
		state := "down"
		if l.Running(m.Name) {
			state = "running"
		}
		var addrs []string
		if ps, err := l.Addrs(m.Name); err == nil {
			for _, p := range ps {
				addrs = append(addrs, p.String())
			}
		}
		fmt.Printf("  %-10s %-8s %-8s machine %-16s netns %-16s addrs %s\n", m.Name, role, state, l.Machine(m.Name), l.NetNS(m.Name), strings.Join(addrs, ","))
	}
}
