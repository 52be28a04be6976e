package status

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/tickets"
	"github.com/tandem-ha/tandem/policies/cib"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestRenderStates(t *testing.T) {
	f, err := config.Load("../../cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
	// Failure times are shown in the report's time zone (the local one,
	// where the CLI makes it): UTC here.
	plugin := func(name, state string) bus.DaemonStatus {
		return bus.DaemonStatus{Name: "plugin " + name, State: name + ": " + state}
	}
	up := func(name string, witness bool) bus.MemberStatus {
		d := []bus.DaemonStatus{{Name: "tandem", State: "active"}, {Name: "bus", State: "active (2 peers, quorum)"},
			plugin("vip", "running, pid 46, restarts 0, version 1.4.0"), plugin("haproxy", "running, pid 44, restarts 0, version 1.4.0"),
			plugin("systemd", "running, pid 45, restarts 0, version 1.4.0"), plugin("health", "idle, restarts 0")}
		if witness {
			d = d[1:2]
		}
		return bus.MemberStatus{Name: name, Witness: witness, Build: "test", Started: now.Add(-time.Hour), Daemons: d}
	}
	// benji's haproxy plugin crashed twice (it runs the version being
	// rolled out); its systemd plugin is restarting; its vip plugin was
	// upgraded.
	troubled := up("benji", false)
	troubled.Daemons[2] = plugin("vip", "running, pid 88, restarts 0, version 1.5.0")
	troubled.Daemons[3] = plugin("haproxy", "running, pid 71, restarts 2, version 1.5.0")
	troubled.Daemons[4] = plugin("systemd", "restarting, restarts 3")
	// benji was stopped with `tandem cluster stop benji`.
	stopped := up("benji", false)
	stopped.Stopped = true
	stopped.Daemons[0].State = "inactive (cluster stopped)"
	started := func(node string, rscs ...string) bus.NodeResources {
		r := bus.NodeResources{Node: node, Probed: true}
		for _, id := range rscs {
			rs := bus.ResourceState{Resource: id, State: bus.StateStarted}
			if id != "VIP-10.10.10.23" {
				rs.Clone = id + "-clone"
			}
			r.Resources = append(r.Resources, rs)
		}
		return r
	}
	// holly holds the VIP while a frozen benji's kernel still answers for it.
	conflict := started("holly", "VIP-10.10.10.23", "httpd", "haproxy")
	conflict.Resources[0].Warning = "address conflict: 10.10.10.23 is also answered for by 52:54:00:aa:bb:02 on the segment of eth1 " +
		"(ours is 52:54:00:aa:bb:01); kept it: this node holds its lease, gratuitous ARP sent again (5× every 200ms)"
	// httpd's stop failed on benji: blocked there.
	benjiBlocked := started("benji", "haproxy")
	benjiBlocked.Resources = append(benjiBlocked.Resources, bus.ResourceState{Resource: "httpd", Clone: "httpd-clone", State: bus.StateBlocked,
		Message: "stop: Operation refused, unit apache2.service may be requested by dependency only", BlockedDef: "0123456789abcdef"})
	benjiFailed := started("benji", "httpd")
	benjiFailed.Resources = append(benjiFailed.Resources, bus.ResourceState{Resource: "haproxy", Clone: "haproxy-clone", State: bus.StateFailed})
	for _, tc := range []struct {
		file     string
		answers  []bus.MemberStatus
		reports  []bus.NodeResources
		failures []Failure
		quorum   bool
		live     *LiveConfig
	}{
		{"all-up.txt", []bus.MemberStatus{up("holly", false), up("benji", false), up("director", true)},
			[]bus.NodeResources{started("holly", "httpd", "haproxy"), started("benji", "VIP-10.10.10.23", "httpd", "haproxy")}, nil, true,
			&LiveConfig{Revision: 1, File: "/etc/tandem/cluster.toml"}},
		{"haproxy-failed.txt", []bus.MemberStatus{up("holly", false), troubled, up("director", true)},
			[]bus.NodeResources{started("holly", "VIP-10.10.10.23", "httpd", "haproxy"), benjiFailed},
			[]Failure{{Resource: "haproxy", Node: "benji", Count: 1, Op: "monitor", Message: "monitor: not running", Last: now.Add(-time.Minute)}}, true, nil},
		{"conflict.txt", []bus.MemberStatus{up("holly", false), up("director", true)},
			[]bus.NodeResources{conflict}, nil, true, nil},
		{"stop-blocked.txt", []bus.MemberStatus{up("holly", false), up("benji", false), up("director", true)},
			[]bus.NodeResources{started("holly", "VIP-10.10.10.23", "httpd", "haproxy"), benjiBlocked},
			[]Failure{{Resource: "httpd", Node: "benji", Count: int(cib.Infinity), Op: "stop",
				Message: "Operation refused, unit apache2.service may be requested by dependency only (it is configured to refuse manual start/stop).",
				Last:    now.Add(-time.Minute)}}, true, nil},
		{"benji-down.txt", []bus.MemberStatus{up("holly", false), up("director", true)},
			[]bus.NodeResources{started("holly", "VIP-10.10.10.23", "httpd", "haproxy"), started("benji", "httpd")}, nil, true, nil},
		{"benji-stopped.txt", []bus.MemberStatus{up("holly", false), stopped, up("director", true)},
			[]bus.NodeResources{started("holly", "VIP-10.10.10.23", "httpd", "haproxy"), started("benji")}, nil, true,
			&LiveConfig{Revision: 7, File: "/etc/tandem/cluster.toml", DiffersFromFile: true}},
		{"alone.txt", []bus.MemberStatus{up("holly", false)}, nil, nil, false, nil},
		// benji in standby, holly in maintenance, maintenance-mode on.
		{"marks.txt", []bus.MemberStatus{up("holly", false), up("benji", false), up("director", true)},
			[]bus.NodeResources{started("holly", "VIP-10.10.10.23", "httpd", "haproxy"), started("benji")}, nil, true, nil},
		// benji froze while coordinating: its lease still names it.
		{"coordinator-frozen.txt", []bus.MemberStatus{up("holly", false), up("director", true)},
			[]bus.NodeResources{started("holly", "VIP-10.10.10.23", "httpd", "haproxy")}, nil, true, nil},
	} {
		r := Build(f.Topology, len(f.CIB.Resources), tc.answers, now)
		r.Live = tc.live
		if tc.reports != nil {
			r.Coordinator = "holly"
			model := f.CIB
			switch tc.file {
			case "marks.txt":
				g, err := config.Load("../../cluster.toml")
				if err != nil {
					t.Fatal(err)
				}
				model = g.CIB
				model.Node("benji").Standby = true
				model.Node("holly").Maintenance = true
				model.Properties.MaintenanceMode = true
			case "coordinator-frozen.txt":
				r.Coordinator = "benji"
			}
			AddResources(&r, model, tc.reports)
			r.Failures = tc.failures
			MarkBlocked(&r, tc.reports)
		}
		if r.Quorum != tc.quorum {
			t.Errorf("%s: quorum %v, want %v", tc.file, r.Quorum, tc.quorum)
		}
		var buf bytes.Buffer
		WriteText(&buf, r)
		golden(t, tc.file, buf.Bytes())
	}

	// A host whose certificate the bus refuses knows nothing of the
	// members: no OFFLINE list, no "0 of 3 voters".
	r := Build(f.Topology, len(f.CIB.Resources), nil, now)
	r.CredentialsRefused = "the members' certificate is not signed by this host's CA (tls.ca): this host has another cluster's PKI (connecting to nats://198.18.0.21:4222 as \"admin\": x509: certificate signed by unknown authority)"
	var buf bytes.Buffer
	WriteText(&buf, r)
	golden(t, "credentials-refused.txt", buf.Bytes())
}

// Groups are listed as pcs lists them: "Resource Group: G:" with the
// members indented, in start order, where the first member is configured;
// a cloned group as a clone set of the group, member by member on a node
// where its members differ.
func TestRenderGroups(t *testing.T) {
	f, err := config.Parse("groups.toml", []byte(`
[cluster]
name = "web"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "director"
address = "198.18.0.30"
[[resource]]
id = "ip"
agent = "vip"
params = { ip = "198.18.0.23" }
[[resource]]
id = "fs"
agent = "systemd:fs"
[[resource]]
id = "db"
agent = "systemd:postgresql"
meta = { target-role = "Stopped" }
[[resource]]
id = "lb"
agent = "haproxy"
[[resource]]
id = "web"
agent = "systemd:apache2"
[[group]]
id = "database"
resources = ["fs", "ip", "db"]
[[group]]
id = "front"
resources = ["lb", "web"]
[group.clone]
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
	up := func(name string) bus.MemberStatus {
		return bus.MemberStatus{Name: name, Build: "test", Started: now.Add(-time.Hour),
			Daemons: []bus.DaemonStatus{{Name: "tandem", State: "active"}, {Name: "bus", State: "active (2 peers, quorum)"}}}
	}
	rs := func(id, clone, st string) bus.ResourceState {
		return bus.ResourceState{Resource: id, Clone: clone, State: st}
	}
	r := Build(f.Topology, len(f.CIB.Resources), []bus.MemberStatus{up("holly"), up("benji"), up("director")}, now)
	AddResources(&r, f.CIB, []bus.NodeResources{
		{Node: "holly", Probed: true, Resources: []bus.ResourceState{rs("fs", "", bus.StateStarted), rs("ip", "", bus.StateStarted),
			rs("lb", "front-clone", bus.StateStarted), rs("web", "front-clone", bus.StateStarted)}},
		{Node: "benji", Probed: true, Resources: []bus.ResourceState{rs("lb", "front-clone", bus.StateStarted), rs("web", "front-clone", bus.StateFailed)}},
	})
	var buf bytes.Buffer
	WriteText(&buf, r)
	golden(t, "groups.txt", buf.Bytes())
}

// A promotable clone is listed as pcs lists it: "(promotable)", with its
// instances Promoted and Unpromoted; a promotable cloned group likewise
// (crm_mon's "* Clone Set: G-clone [G] (promotable):", its copies
// "Promoted: [ n ]", "Unpromoted: [ m ]", member by member on a node
// where its members differ).
func TestRenderPromotable(t *testing.T) {
	f, err := config.Parse("promotable.toml", []byte(`
[cluster]
name = "db"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[[node]]
name = "carl"
address = "198.18.0.26"
[[resource]]
id = "pg"
agent = "example:replica"
[resource.clone]
promotable = true
[[resource]]
id = "fs"
agent = "example:replica"
[[resource]]
id = "app"
agent = "example:replica"
[[group]]
id = "stack"
resources = ["fs", "app"]
[group.clone]
promotable = true
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
	up := func(name string) bus.MemberStatus {
		return bus.MemberStatus{Name: name, Build: "test", Started: now.Add(-time.Hour),
			Daemons: []bus.DaemonStatus{{Name: "tandem", State: "active"}, {Name: "bus", State: "active (2 peers, quorum)"}}}
	}
	r := Build(f.Topology, len(f.CIB.Resources), []bus.MemberStatus{up("holly"), up("benji"), up("carl")}, now)
	AddResources(&r, f.CIB, []bus.NodeResources{
		{Node: "holly", Probed: true, Resources: []bus.ResourceState{{Resource: "pg", Clone: "pg-clone", State: bus.StateStarted},
			{Resource: "fs", Clone: "stack-clone", State: bus.StateStarted, Role: cib.RolePromoted}, {Resource: "app", Clone: "stack-clone", State: bus.StateStarted, Role: cib.RolePromoted}}},
		{Node: "benji", Probed: true, Resources: []bus.ResourceState{{Resource: "pg", Clone: "pg-clone", Instance: 1, State: bus.StateStarted, Role: cib.RolePromoted},
			{Resource: "fs", Clone: "stack-clone", Instance: 1, State: bus.StateStarted}, {Resource: "app", Clone: "stack-clone", Instance: 1, State: bus.StateStarted}}},
		{Node: "carl", Probed: true, Resources: []bus.ResourceState{{Resource: "pg", Clone: "pg-clone", Instance: 2, State: bus.StateStarted},
			{Resource: "fs", Clone: "stack-clone", Instance: 2, State: bus.StateStarted}}},
	})
	var buf bytes.Buffer
	WriteText(&buf, r)
	golden(t, "promotable.txt", buf.Bytes())
}

// TestRenderTickets: the Tickets section lists the tickets the constraints
// name (a never granted one is revoked) and those only recorded, with
// their state, when and by whom they changed, as crm_mon --show-tickets.
func TestRenderTickets(t *testing.T) {
	f, err := config.Parse("tickets.toml", []byte(`
[cluster]
name = "site-a"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "quorum"
address = "198.18.0.25"
[[resource]]
id = "db"
agent = "example:sleeper"
[[resource]]
id = "web"
agent = "example:sleeper"
[[ticket]]
ticket = "ticketA"
rsc = "db"
[[ticket]]
ticket = "ticketA"
rsc = "web"
loss-policy = "freeze"
[[ticket]]
ticket = "ticketB"
rsc = "web"
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
	up := func(name string) bus.MemberStatus {
		return bus.MemberStatus{Name: name, Build: "test", Started: now.Add(-time.Hour),
			Daemons: []bus.DaemonStatus{{Name: "tandem", State: "active"}, {Name: "bus", State: "active (1 peers, quorum)"}}}
	}
	r := Build(f.Topology, len(f.CIB.Resources), []bus.MemberStatus{up("holly"), up("benji")}, now)
	AddResources(&r, f.CIB, []bus.NodeResources{
		{Node: "holly", Probed: true, Resources: []bus.ResourceState{{Resource: "db", State: bus.StateStarted}}},
		{Node: "benji", Probed: true},
	})
	r.Tickets = tickets.Summarize(f.CIB, []tickets.Record{
		{Ticket: "ticketA", Granted: true, Changed: now.Add(-time.Minute), By: "cli@holly"},
		{Ticket: "old", Granted: true, Standby: true, Changed: now.Add(-time.Hour), By: "cli@benji"},
	})
	if len(r.Tickets) != 3 {
		t.Fatalf("tickets: %+v, want ticketA, ticketB and old", r.Tickets)
	}
	var buf bytes.Buffer
	WriteText(&buf, r)
	golden(t, "tickets.txt", buf.Bytes())
}

// A globally-unique clone is listed instance by instance, as pcs lists it
// ("* Clone Set: ip-clone [ip] (unique):", then "* ip:0 ... Started
// holly"), its instances active nowhere as Stopped.
func TestRenderUnique(t *testing.T) {
	f, err := config.Parse("unique.toml", []byte(`
[cluster]
name = "web"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[[node]]
name = "carl"
address = "198.18.0.26"
[[resource]]
id = "ip"
agent = "vip"
params = { ip = "198.18.0.50" }
[resource.clone]
globally-unique = true
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
	up := func(name string) bus.MemberStatus {
		return bus.MemberStatus{Name: name, Build: "test", Started: now.Add(-time.Hour),
			Daemons: []bus.DaemonStatus{{Name: "tandem", State: "active"}, {Name: "bus", State: "active (2 peers, quorum)"}}}
	}
	r := Build(f.Topology, len(f.CIB.Resources), []bus.MemberStatus{up("holly"), up("benji"), up("carl")}, now)
	AddResources(&r, f.CIB, []bus.NodeResources{
		{Node: "holly", Probed: true, Resources: []bus.ResourceState{{Resource: "ip", Clone: "ip-clone", Instance: 0, State: bus.StateStarted}}},
		{Node: "benji", Probed: true, Resources: []bus.ResourceState{{Resource: "ip", Clone: "ip-clone", Instance: 2, State: bus.StateFailed}}},
		{Node: "carl", Probed: true},
	})
	if len(r.ResourceList) != 1 || !r.ResourceList[0].Unique || len(r.ResourceList[0].Instances) != 3 {
		t.Fatalf("resource list: %+v", r.ResourceList)
	}
	var buf bytes.Buffer
	WriteText(&buf, r)
	golden(t, "unique.txt", buf.Bytes())
}

// Several instances of a unique clone on one node (clone-node-max 2)
// are each listed, as pcs lists them, and the node shows the one that
// failed, whichever report order.
func TestRenderUniqueSeveralPerNode(t *testing.T) {
	f, err := config.Parse("unique.toml", []byte(`
[cluster]
name = "web"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "director"
address = "198.18.0.30"
[[resource]]
id = "ip"
agent = "vip"
params = { ip = "198.18.0.50" }
[resource.clone]
globally-unique = true
clone-max = 4
clone-node-max = 2
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
	up := func(name string) bus.MemberStatus {
		return bus.MemberStatus{Name: name, Build: "test", Started: now.Add(-time.Hour),
			Daemons: []bus.DaemonStatus{{Name: "tandem", State: "active"}, {Name: "bus", State: "active (1 peers, quorum)"}}}
	}
	for _, hollyFirst := range []bool{true, false} {
		holly := []bus.ResourceState{{Resource: "ip", Clone: "ip-clone", Instance: 1, State: bus.StateFailed},
			{Resource: "ip", Clone: "ip-clone", Instance: 3, State: bus.StateStarted}}
		if !hollyFirst {
			holly[0], holly[1] = holly[1], holly[0]
		}
		r := Build(f.Topology, len(f.CIB.Resources), []bus.MemberStatus{up("holly"), up("benji")}, now)
		AddResources(&r, f.CIB, []bus.NodeResources{
			{Node: "holly", Probed: true, Resources: holly},
			{Node: "benji", Probed: true, Resources: []bus.ResourceState{{Resource: "ip", Clone: "ip-clone", Instance: 0, State: bus.StateStarted},
				{Resource: "ip", Clone: "ip-clone", Instance: 2, State: bus.StateStarted}}},
		})
		if len(r.ResourceList) != 1 {
			t.Fatalf("resource list: %+v", r.ResourceList)
		}
		res := r.ResourceList[0]
		if res.Nodes["holly"] != "FAILED" || res.Nodes["benji"] != "Started" {
			t.Errorf("nodes %v, want holly FAILED (its instance 1), benji Started", res.Nodes)
		}
		var buf bytes.Buffer
		WriteText(&buf, r)
		for _, want := range []string{"    * ip:0\t(vip):\t Started benji\n", "    * ip:1\t(vip):\t FAILED holly\n",
			"    * ip:2\t(vip):\t Started benji\n", "    * ip:3\t(vip):\t Started holly\n"} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("status lacks %q:\n%s", want, buf.String())
			}
		}
	}
}

// A live configuration that could not be read is said in the WARNINGS
// block, with why and what the resources listed are, in the text and in
// the JSON.
func TestLiveConfigUnreadableWarns(t *testing.T) {
	r := Report{LiveUnreadable: "nats: no responders available for request"}
	var b strings.Builder
	WriteText(&b, r)
	out := b.String()
	for _, want := range []string{"WARNINGS:", "The live configuration could not be read: nats: no responders available for request",
		"The resources below are this host's cluster file's"} {
		if !strings.Contains(out, want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}
	var j strings.Builder
	if err := WriteJSON(&j, r); err != nil || !strings.Contains(j.String(), `"live_config_unreadable": "nats: no responders available for request"`) {
		t.Errorf("status JSON (%v):\n%s", err, j.String())
	}
}

// A globally-unique cloned group is listed as crm_mon lists one (cts
// bug-1822's summary): the clone set "(unique)" or "(promotable,
// unique)", then each copy N as "Resource Group: G:N:" with its members'
// instance N, a stopped one "Stopped", a running instance of a promotable
// copy "Promoted" or "Unpromoted".
func TestRenderUniqueClonedGroup(t *testing.T) {
	for _, promotable := range []bool{false, true} {
		src := `
[cluster]
name = "web"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "director"
address = "198.18.0.30"
[[resource]]
id = "a"
agent = "example:process"
[[resource]]
id = "b"
agent = "example:process"
[[group]]
id = "g"
resources = ["a", "b"]
[group.clone]
globally-unique = true
`
		if promotable {
			src += "promotable = true\nclone-max = 2\n"
		} else {
			src += "clone-max = 3\nclone-node-max = 2\n"
		}
		f, err := config.Parse("g.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2016, 7, 18, 1, 6, 1, 0, time.UTC)
		up := func(name string) bus.MemberStatus {
			return bus.MemberStatus{Name: name, Build: "test", Started: now.Add(-time.Hour),
				Daemons: []bus.DaemonStatus{{Name: "tandem", State: "active"}, {Name: "bus", State: "active (1 peers, quorum)"}}}
		}
		role := ""
		if promotable {
			role = cib.RolePromoted
		}
		r := Build(f.Topology, len(f.CIB.Resources), []bus.MemberStatus{up("holly"), up("benji")}, now)
		AddResources(&r, f.CIB, []bus.NodeResources{
			{Node: "holly", Probed: true, Resources: []bus.ResourceState{
				{Resource: "a", Clone: "g-clone", Instance: 1, State: bus.StateStarted, Role: role},
				{Resource: "b", Clone: "g-clone", Instance: 1, State: bus.StateStarted, Role: role}}},
			{Node: "benji", Probed: true, Resources: []bus.ResourceState{
				{Resource: "a", Clone: "g-clone", Instance: 0, State: bus.StateStarted},
				{Resource: "b", Clone: "g-clone", Instance: 0, State: bus.StateFailed}}},
		})
		var buf bytes.Buffer
		WriteText(&buf, r)
		started, promoted, kind := "Started", "Started", " (unique)"
		if promotable {
			started, promoted, kind = "Unpromoted", "Promoted", " (promotable, unique)"
		}
		want := "  * Clone Set: g-clone [g]" + kind + ":\n" +
			"    * Resource Group: g:0:\n" +
			"      * a:0\t(example:process):\t " + started + " benji\n" +
			"      * b:0\t(example:process):\t FAILED benji\n" +
			"    * Resource Group: g:1:\n" +
			"      * a:1\t(example:process):\t " + promoted + " holly\n" +
			"      * b:1\t(example:process):\t " + promoted + " holly\n"
		if !promotable { // copy 2 of 3, running nowhere
			want += "    * Resource Group: g:2:\n" +
				"      * a:2\t(example:process):\t Stopped\n" +
				"      * b:2\t(example:process):\t Stopped\n"
		}
		if !strings.Contains(buf.String(), want) {
			t.Errorf("promotable %v: status lacks\n%s\nin:\n%s", promotable, want, buf.String())
		}
	}
}
