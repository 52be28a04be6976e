// Command demo is the README's main job (`make demo`): it boots the
// reference lab (holly, benji and the witness on director, e2e/cluster.toml)
// with Tandem started on every member, waits until the live configuration
// seeded from the cluster file runs (the VIP on one node, httpd-clone and
// haproxy-clone on both) and every node's HAProxy has every started httpd
// in rotation (its runtime API says so), prints `tandem status` and six
// requests to the VIP, and leaves the lab up. It fails, saying so, if the
// six answers do not alternate over every node's Apache. Run it as root
// after `make build`.
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
	"github.com/tandem-ha/tandem/e2e/scenario"
)

func main() {
	prefix := flag.String("prefix", lab.ReferencePrefix, "lab name prefix")
	timeout := flag.Duration("timeout", 3*time.Minute, "deadline for the cluster to serve the VIP (node root build excluded)")
	subnet := flag.String("subnet", "", "lab subnet inside 198.18.0.0/24 (default the reference one, "+lab.ReferenceSubnet.String()+"); the cluster file's addresses are moved into it")
	deb := flag.String("deb", "", "install this tandem Debian package (make deb) in every node instead of bind-mounting bin/ (default $"+lab.EnvDeb+")")
	flag.Parse()
	opts := lab.Options{Prefix: *prefix, StartTandem: true, Package: *deb}
	if *subnet != "" {
		p, err := netip.ParsePrefix(*subnet)
		if err != nil {
			fmt.Fprintf(os.Stderr, "demo: --subnet %q: %v\n", *subnet, err)
			os.Exit(2)
		}
		opts.Subnet, opts.Relocate = p, true
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: run as root (the lab creates network namespaces, a bridge and containers)")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		fmt.Fprintf(os.Stderr, "demo: the lab is left as it is for a look: go run ./e2e/cmd/lab --prefix %s journal holly; take it down with: go run ./e2e/cmd/lab --prefix %s down\n", *prefix, *prefix)
		os.Exit(1)
	}
}

func say(format string, a ...any) {
	fmt.Printf("==> "+format+"\n", a...)
}

func run(ctx context.Context, opts lab.Options, timeout time.Duration) error {
	prefix := opts.Prefix
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s lab: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
	how := "tandem.service enabled (bin/ bind-mounted)"
	if opts.Package != "" || os.Getenv(lab.EnvDeb) != "" {
		how = "the tandem package installed and its unit enabled"
	}
	say("booting the lab %q: holly, benji and the witness on director, each with %s", prefix, how)
	upCtx, cancel := context.WithTimeout(ctx, 20*time.Minute) // a cold node root build takes about 1.5 min
	opts.Logf = logf
	l, err := lab.Up(upCtx, opts)
	cancel()
	if err != nil {
		return err
	}
	booted := time.Now()
	c, err := scenario.New(l)
	if err != nil {
		return err
	}
	say("waiting for the cluster: quorum, the live configuration seeded from %s, %s on one node, %s on both",
		lab.NodeConfig, c.VIPResource, strings.Join(c.Clones, " and "))
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := c.WaitConverged(wctx, c.Nodes[0], c.Nodes)
	if err != nil {
		return err
	}
	// Converged in status is not yet balanced: a backend HAProxy has just
	// been told about may still be passing its health checks.
	say("waiting until every node's HAProxy has every started %s in rotation (HAProxy's runtime API)", c.HAProxy.Params.BackendClone)
	converged := time.Now()
	for {
		err := c.InRotation(wctx, r)
		if err == nil {
			say("in rotation everywhere %s after tandem status showed the cluster converged", time.Since(converged).Round(10*time.Millisecond))
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("HAProxy does not balance over every node: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Serving: the first answer through the VIP.
	for {
		_, err := c.Get(wctx, time.Second)
		if err == nil {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("the VIP %s does not answer: %v", c.VIP, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	serving := time.Since(booted)

	out, err := c.Tandem(ctx, c.Nodes[0], "status")
	if err != nil {
		return err
	}
	fmt.Printf("\n[root@%s ~]# tandem status\n%s\n", c.Nodes[0], out)
	fmt.Printf("[root@%s ~]# tandem constraint\n", c.Nodes[0])
	if out, err := c.Tandem(ctx, c.Nodes[0], "constraint"); err == nil {
		fmt.Println(out)
	} else {
		return err
	}
	fmt.Printf("[root@host ~]# for i in 1 2 3 4 5 6; do curl http://%s/; done\n", c.VIP)
	var bodies []string
	for range 6 {
		body, err := c.Get(ctx, 2*time.Second)
		if err != nil {
			fmt.Printf("curl: %v\n", err)
			body = ""
		} else {
			fmt.Println(body)
		}
		bodies = append(bodies, body)
	}
	fmt.Println()
	if err := alternates(bodies, scenario.StartedOn(r, c.HAProxy.Params.BackendClone)); err != nil {
		return fmt.Errorf("the VIP does not balance round robin over every node's Apache: %w", err)
	}
	say("lab booted to the cluster converged (as tandem status shows it) and the VIP serving in %s", serving.Round(10*time.Millisecond))
	for _, m := range l.Members() {
		if u, err := l.TandemMemory(m.Name); err == nil {
			say("memory of %s on %s: %s", l.Unit(m.Name), m.Name, u)
		}
	}
	say("the lab stays up. Look around:")
	fmt.Printf(`      go run ./e2e/cmd/lab --prefix %[1]s exec holly tandem status      # any tandem command, on any member
      go run ./e2e/cmd/lab --prefix %[1]s kill holly                    # a hard node failure (restart holly to boot it again)
      go run ./e2e/cmd/lab --prefix %[1]s cut benji | heal benji       # a network partition
      go run ./e2e/cmd/lab --prefix %[1]s journal benji                 # a member's journal
      curl http://%[2]s/                                            # the VIP, from this host
    Take it down with: make lab-down   (go run ./e2e/cmd/lab --prefix %[1]s down)
`, prefix, c.VIP)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

// alternates checks that answers ("" for none) go round robin over the
// Apache of every node: every request answered, no two answers in a row
// from the same node, and every node's page ("Hello Holly") among them.
func alternates(bodies, nodes []string) error {
	seen := map[string]bool{}
	for i, b := range bodies {
		if b == "" {
			return fmt.Errorf("request %d got no answer (all: %q)", i+1, bodies)
		}
		if i > 0 && b == bodies[i-1] {
			return fmt.Errorf("answers %d and %d were both %q (all: %q)", i, i+1, b, bodies)
		}
		seen[b] = true
	}
	for _, n := range nodes {
		if want := "Hello " + strings.ToUpper(n[:1]) + n[1:]; !seen[want] {
			return fmt.Errorf("no answer %q among %q", want, bodies)
		}
	}
	return nil
}
