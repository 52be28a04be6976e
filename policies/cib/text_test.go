package cib

import (
	"strings"
	"testing"
)

// The injections the issue found: a newline in a haproxy parameter wrote a
// lua-load line into haproxy.cfg, one in a systemd parameter an
// ExecStartPre= line into the drop-in.
func TestControlCharactersRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(c *CIB)
		want []string
	}{
		"haproxy chroot": {func(c *CIB) {
			c.Resources = append(c.Resources, Resource{ID: "lb", Agent: "haproxy", Params: map[string]string{"chroot": "/var/empty\nlua-load /tmp/x.lua"}})
		}, []string{`resource "lb": param "chroot"`, `'\n'`}},
		"haproxy stats_socket": {func(c *CIB) {
			c.Resources = append(c.Resources, Resource{ID: "lb", Agent: "haproxy", Params: map[string]string{"stats_socket": "/run/s.sock\r\nlua-load /tmp/x.lua"}})
		}, []string{`param "stats_socket"`, `'\r'`}},
		"systemd config": {func(c *CIB) {
			c.Resources[1].Params = map[string]string{"config": "/etc/x\nExecStartPre=/bin/sh -c id"}
		}, []string{`resource "db": param "config"`}},
		"NUL in a param name": {func(c *CIB) { c.Resources[1].Params = map[string]string{"a\x00b": "1"} }, []string{`resource "db": param name`, `'\x00'`}},
		"node name":           {func(c *CIB) { c.Nodes[0].Name = "holly\n" }, []string{"node name"}},
		"node attribute":      {func(c *CIB) { c.Nodes[0].Attributes = map[string]string{"rack": "1\x1b[2J"} }, []string{`node "holly": attribute "rack"`, `'\x1b'`}},
		"target-role":         {func(c *CIB) { c.Resources[1].Meta.TargetRole = "Started\n" }, []string{`resource "db": meta target-role`}},
		"order id": {func(c *CIB) {
			c.Orders = append(c.Orders, Order{ID: "o\n1", First: "web-clone", Then: "db", FirstAction: ActionStart, ThenAction: ActionStart, Kind: Mandatory})
		}, []string{"order id"}},
		"line separator": {func(c *CIB) { c.Resources[1].Params = map[string]string{"x": "a\u2028b"} }, []string{`param "x"`}},
	} {
		c := base(t)
		tc.edit(c)
		ps := c.Validate()
		if ps == nil {
			t.Errorf("%s: valid, want refused", name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(ps.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, ps.Error(), w)
			}
		}
	}
	c := base(t)
	c.Resources[1].Params = map[string]string{"config": "/etc/x y=ü"}
	if ps := c.Validate(); ps != nil {
		t.Errorf("printable text refused: %v", ps)
	}
}

// Ids a:b and a_b share the lease key rsc.a_b: they would hold one lease.
func TestLeaseKeyCollisionRefused(t *testing.T) {
	c := base(t)
	c.Resources = append(c.Resources, Resource{ID: "a:b", Agent: "vip"}, Resource{ID: "a_b", Agent: "vip"})
	ps := c.Validate()
	if ps == nil || !strings.Contains(ps.Error(), `resource "a_b": its lease key "rsc.a_b" is also resource "a:b"'s`) {
		t.Fatalf("got %v, want the lease key collision of a:b and a_b", ps)
	}
	if LeaseKey("a:b") != "rsc.a_b" || LeaseKey("web-1.x") != "rsc.web-1.x" {
		t.Errorf("LeaseKey: %q %q", LeaseKey("a:b"), LeaseKey("web-1.x"))
	}
}

// Two promotable clones whose ids map to one bus key would share their
// promoted role's leases: refused, naming both; the keys are apart from
// singletons'.
func TestPromotedLeaseKeyCollisionRefused(t *testing.T) {
	c := base(t)
	c.Resources = append(c.Resources,
		Resource{ID: "p1", Agent: "example:process", Clone: &Clone{ID: "db:x", Promotable: true}},
		Resource{ID: "p2", Agent: "example:process", Clone: &Clone{ID: "db_x", Promotable: true}})
	ps := c.Validate()
	if ps == nil || !strings.Contains(ps.Error(), `clone "db_x": its promoted role's lease keys ("promoted.db_x.0", ...) are also clone "db:x"'s`) {
		t.Fatalf("got %v, want the promoted lease key collision of db:x and db_x", ps)
	}
	c.Resources[len(c.Resources)-1].Clone.ID = "db-y"
	if ps := c.Validate(); ps != nil {
		t.Fatalf("distinct clone ids refused: %v", ps)
	}
	if k := PromotedLeaseKey("db:x", 1); k != "promoted.db_x.1" || k == LeaseKey("db:x") {
		t.Errorf("PromotedLeaseKey(db:x, 1): %q", k)
	}
}

func TestCloneBoundedByNodes(t *testing.T) {
	c := base(t)
	c.Resources[0].Clone.Max = 100000
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), `resource "web": clone-max 100000 is more than the 2 instance(s) the 2 node(s) can run`) {
		t.Errorf("clone-max 100000: got %v", ps)
	}
	c.Resources[0].Clone.Max, c.Resources[0].Clone.NodeMax = 0, 100000
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), "clone-node-max 100000 is more than the 2 node(s)") {
		t.Errorf("clone-node-max 100000: got %v", ps)
	}
	c.Resources[0].Clone.Max, c.Resources[0].Clone.NodeMax = 4, 2
	c.Resources[0].Clone.GloballyUnique = true
	if ps := c.Validate(); ps != nil {
		t.Errorf("clone-max 4, clone-node-max 2 on 2 nodes: %v", ps)
	}
}

// Several instances of a clone on one node must be told apart: Pacemaker
// ignores clone-node-max for an anonymous clone (one per node); Tandem
// refuses it and says what to set.
func TestCloneNodeMaxNeedsGloballyUnique(t *testing.T) {
	c := base(t)
	c.Resources[0].Clone.NodeMax = 2
	want := `resource[0]: resource "web": clone-node-max 2 needs globally-unique = true`
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), want) {
		t.Fatalf("anonymous clone-node-max 2: got %v, want %q", ps, want)
	}
	if err := SetCloneOption(c.Resources[0].Clone, "globally-unique", "true"); err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(); ps != nil {
		t.Fatalf("globally-unique clone-node-max 2: %v", ps)
	}
	if err := SetCloneOption(c.Resources[0].Clone, "globally-unique", "maybe"); err == nil || !strings.Contains(err.Error(), `globally-unique="maybe": want true or false`) {
		t.Errorf("globally-unique=maybe: got %v", err)
	}
	// A cloned group likewise: several copies on a node need
	// globally-unique, which a cloned group may be; a promotable one runs
	// one copy per node.
	gcl := &Clone{ID: "g-clone", NodeMax: 2}
	c.Groups = []Group{{ID: "g", Resources: []string{"a"}, Clone: gcl}}
	c.Resources = append(c.Resources, Resource{ID: "a", Agent: "systemd:a"})
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), `group "g": clone-node-max 2 needs globally-unique = true`) {
		t.Errorf("anonymous cloned group, clone-node-max 2: got %v", ps)
	}
	gcl.GloballyUnique = true
	if ps := c.Validate(); ps != nil {
		t.Errorf("unique cloned group, clone-node-max 2: %v", ps)
	}
	gcl.Promotable = true
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), `group "g": clone-node-max 2 on a promotable cloned group is not supported`) {
		t.Errorf("promotable unique cloned group, clone-node-max 2: got %v", ps)
	}
	gcl.NodeMax = 1
	if ps := c.Validate(); ps != nil {
		t.Errorf("promotable unique cloned group: %v", ps)
	}
}
