// Package scenario drives the reference Active/Active cluster in an nspawn
// lab (package e2e/lab): it reads `tandem status` from a node, waits for the
// cluster to converge, watches every node's addresses for a VIP on two nodes
// at once (the safety checker) and runs bounded HTTP client loops against the
// VIP. The demo, the end-to-end tests and the failover benchmark share it.
package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/status"
	"github.com/tandem-ha/tandem/plugins/haproxy"
)

// Cluster is the reference scenario running in a lab.
type Cluster struct {
	Lab *lab.Lab
	// VIP is the floating address and VIPResource its resource id.
	VIP         netip.Addr
	VIPResource string
	// Nodes are the cluster's nodes (the witness excluded), Witness its name.
	Nodes   []string
	Witness string
	// Clones are the clone ids every node should run.
	Clones []string
	// HAProxy is the resource of the haproxy agent that balances over the
	// nodes (nil when there is none), with its parameters as the agent
	// reads them.
	HAProxy *HAProxy
}

// HAProxy is the load balancer of the scenario.
type HAProxy struct {
	Resource string
	Clone    string
	Params   haproxy.Params
	Socket   string // its admin stats socket inside a node
}

// New reads the scenario from the lab's cluster file: the one "vip"
// primitive, the clones and the members.
func New(l *lab.Lab) (*Cluster, error) {
	f := l.Config()
	c := &Cluster{Lab: l, Nodes: f.Topology.NodeNames()}
	if w := f.Topology.Witness(); w != nil {
		c.Witness = w.Name
	}
	for _, r := range f.CIB.Resources {
		if r.Agent == haproxy.Name && r.Clone != nil {
			p, err := haproxy.ParseParams(r.Params)
			if err != nil {
				return nil, fmt.Errorf("%s: resource %s: %w", l.ConfigFile(), r.ID, err)
			}
			sock := p.StatsSocket
			if sock == "" {
				sock = path.Join(haproxy.DefaultStateDir, r.ID+".sock")
			}
			c.HAProxy = &HAProxy{Resource: r.ID, Clone: r.Clone.ID, Params: p, Socket: sock}
		}
		if r.Clone != nil {
			c.Clones = append(c.Clones, r.Clone.ID)
			continue
		}
		if r.Agent == "vip" || r.Agent == "ocf:heartbeat:IPaddr2" {
			if c.VIPResource != "" {
				return nil, fmt.Errorf("%s: more than one vip resource (%s, %s)", l.ConfigFile(), c.VIPResource, r.ID)
			}
			ip, err := netip.ParseAddr(r.Params["ip"])
			if err != nil {
				return nil, fmt.Errorf("%s: resource %s: ip: %w", l.ConfigFile(), r.ID, err)
			}
			c.VIP, c.VIPResource = ip, r.ID
		}
	}
	if c.VIPResource == "" {
		return nil, fmt.Errorf("%s: no vip resource", l.ConfigFile())
	}
	return c, nil
}

// ClusterConfig returns the lab's cluster file.
func (c *Cluster) ClusterConfig() *config.File { return c.Lab.Config() }

// Tandem runs `tandem ARGS...` in node and returns its output.
func (c *Cluster) Tandem(ctx context.Context, node string, args ...string) (string, error) {
	return c.Lab.Exec(ctx, node, append([]string{c.Lab.TandemPath()}, args...)...)
}

// Status reads `tandem status --output json` from node.
func (c *Cluster) Status(ctx context.Context, node string) (*status.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := c.Tandem(ctx, node, "status", "--output", "json")
	if err != nil {
		return nil, err
	}
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("%s: tandem status --output json: %w: %.200s", node, err, out)
	}
	return &r, nil
}

// Resource finds a resource of the report by its id or clone id.
func Resource(r *status.Report, id string) *status.Resource {
	for i := range r.ResourceList {
		if r.ResourceList[i].ID == id || r.ResourceList[i].Clone == id {
			return &r.ResourceList[i]
		}
	}
	return nil
}

// StartedOn lists the nodes where the report says id is Started, sorted.
func StartedOn(r *status.Report, id string) []string {
	res := Resource(r, id)
	if res == nil {
		return nil
	}
	var on []string
	for n, st := range res.Nodes {
		if st == "Started" {
			on = append(on, n)
		}
	}
	sort.Strings(on)
	return on
}

// Converged says whether the report shows the scenario running on nodes:
// quorum, every clone started on exactly those nodes, the VIP started on
// one of them, and no resource elsewhere. It returns what is missing.
func (c *Cluster) Converged(r *status.Report, nodes []string) error {
	var why []string
	if !r.Quorum {
		why = append(why, "no quorum")
	}
	want := append([]string(nil), nodes...)
	sort.Strings(want)
	for _, clone := range c.Clones {
		if got := StartedOn(r, clone); strings.Join(got, " ") != strings.Join(want, " ") {
			why = append(why, fmt.Sprintf("%s started on [%s], want [%s]", clone, strings.Join(got, " "), strings.Join(want, " ")))
		}
	}
	vip := StartedOn(r, c.VIPResource)
	if len(vip) != 1 || !contains(want, vip[0]) {
		why = append(why, fmt.Sprintf("%s started on [%s], want one of [%s]", c.VIPResource, strings.Join(vip, " "), strings.Join(want, " ")))
	}
	if len(why) > 0 {
		return errors.New(strings.Join(why, "; "))
	}
	return nil
}

// WaitConverged polls `tandem status` on from until the scenario runs on
// nodes (see Converged), or ctx ends; it returns the last report.
func (c *Cluster) WaitConverged(ctx context.Context, from string, nodes []string) (*status.Report, error) {
	var last error
	for {
		r, err := c.Status(ctx, from)
		if err == nil {
			if err = c.Converged(r, nodes); err == nil {
				return r, nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster did not converge on [%s]: %v", strings.Join(nodes, " "), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// InRotation says whether every node that runs HAProxy (r's haproxy
// clone) sends requests to every node r shows running the backend clone,
// asking each HAProxy's runtime API; it returns what is missing. A
// cluster can be converged in status while a backend is still passing its
// health checks, and then the VIP answers from one node only.
func (c *Cluster) InRotation(ctx context.Context, r *status.Report) error {
	h := c.HAProxy
	if h == nil {
		return errors.New("the scenario has no haproxy resource")
	}
	backends := StartedOn(r, h.Params.BackendClone)
	if len(backends) == 0 {
		return fmt.Errorf("%s runs nowhere", h.Params.BackendClone)
	}
	var why []string
	for _, n := range StartedOn(r, h.Clone) {
		sock, err := c.Lab.LivePath(n, h.Socket)
		if err != nil {
			return err
		}
		list, err := haproxy.Servers(ctx, sock, h.Params.Proxy)
		if err != nil {
			return fmt.Errorf("HAProxy on %s: %w", n, err)
		}
		status := map[string]haproxy.ServerStatus{}
		for _, s := range list {
			status[s.Name] = s
		}
		for _, b := range backends {
			s, ok := status[b]
			switch {
			case !ok:
				why = append(why, fmt.Sprintf("HAProxy on %s has no server %s", n, b))
			case !s.InRotation():
				why = append(why, fmt.Sprintf("HAProxy on %s: server %s is %s (check %s)", n, b, s.Status, s.Check))
			}
		}
	}
	if len(why) > 0 {
		return errors.New(strings.Join(why, "; "))
	}
	return nil
}

// Holders lists the nodes whose interfaces carry the VIP now (a killed
// node carries nothing).
func (c *Cluster) Holders() ([]string, error) {
	var on []string
	for _, n := range c.Nodes {
		addrs, err := c.Lab.Addrs(n)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if a.Addr() == c.VIP {
				on = append(on, n)
				break
			}
		}
	}
	return on, nil
}

// WaitHolder polls until exactly one node carries the VIP and returns it.
func (c *Cluster) WaitHolder(ctx context.Context, not string) (string, error) {
	for {
		on, err := c.Holders()
		if err == nil && len(on) == 1 && on[0] != not {
			return on[0], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the VIP %s is on [%s] (err %v), want one node other than %q", c.VIP, strings.Join(on, " "), err, not)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Other returns the cluster node that is not n.
func (c *Cluster) Other(n string) string {
	for _, m := range c.Nodes {
		if m != n {
			return m
		}
	}
	return ""
}

// HostPID returns the main pid of tandem.service in node.
func (c *Cluster) HostPID(ctx context.Context, node string) (string, error) {
	out, err := c.Lab.Exec(ctx, node, "systemctl", "show", "-p", "MainPID", "--value", "tandem.service")
	if err != nil {
		return "", err
	}
	pid := strings.TrimSpace(out)
	if pid == "" || pid == "0" {
		return "", fmt.Errorf("%s: tandem.service has no main process", node)
	}
	return pid, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
