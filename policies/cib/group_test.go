package cib

import (
	"encoding/json"
	"strings"
	"testing"
)

// grouped is base plus three primitives a, b, c.
func grouped(t *testing.T) *CIB {
	t.Helper()
	c := base(t)
	for _, id := range []string{"a", "b", "c"} {
		if _, err := c.AddResource(id, "systemd:"+id, ResourceSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func members(c *CIB, g string) string {
	grp, _ := c.Group(g)
	if grp == nil {
		return "<none>"
	}
	return strings.Join(grp.Resources, " ")
}

// group add creates the group, appends or inserts before/after a member,
// and moves a resource out of its old group (deleting that group once
// empty, with its constraints), as pcs resource group add does.
func TestGroupAddRemove(t *testing.T) {
	c := grouped(t)
	steps := []struct {
		edit func() ([]string, error)
		g    string
		want string
	}{
		{func() ([]string, error) { return c.GroupAdd("g", []string{"a", "c"}, GroupPosition{}) }, "g", "a c"},
		{func() ([]string, error) { return c.GroupAdd("g", []string{"b"}, GroupPosition{Before: "c"}) }, "g", "a b c"},
		{func() ([]string, error) { return c.GroupAdd("g", []string{"c"}, GroupPosition{After: "a"}) }, "g", "a c b"},
		{func() ([]string, error) { return c.GroupAdd("h", []string{"db"}, GroupPosition{}) }, "h", "db"},
		{func() ([]string, error) { return c.GroupRemove("g", []string{"c"}) }, "g", "a b"},
	}
	for i, st := range steps {
		if _, err := st.edit(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := members(c, st.g); got != st.want {
			t.Fatalf("step %d: group %s is %q, want %q", i, st.g, got, st.want)
		}
	}
	if err := c.AddColocation(Colocation{ID: "c-h", Rsc: "c", With: "h", Score: Infinity}); err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(); ps != nil {
		t.Fatal(ps)
	}
	// db moves to g: h is empty, so it goes with its constraint.
	removed, err := c.GroupAdd("g", []string{"db"}, GroupPosition{})
	if err != nil || strings.Join(removed, " ") != "c-h" || members(c, "h") != "<none>" || members(c, "g") != "a b db" {
		t.Fatalf("moving db: removed %v, err %v, g %q, h %q", removed, err, members(c, "g"), members(c, "h"))
	}
	// Deleting a member leaves the group; ungrouping keeps the resources.
	if _, err := c.DeleteResource("b"); err != nil || members(c, "g") != "a db" {
		t.Fatalf("delete b: %v, g %q", err, members(c, "g"))
	}
	if _, err := c.GroupRemove("g", nil); err != nil || len(c.Groups) != 0 || len(c.Resources) != 4 {
		t.Fatalf("ungroup: %v, groups %+v, %d resources", err, c.Groups, len(c.Resources))
	}
	// Deleting a group deletes its members and their constraints.
	if _, err := c.GroupAdd("g", []string{"a", "c"}, GroupPosition{}); err != nil {
		t.Fatal(err)
	}
	_ = c.AddOrder(Order{ID: "o", First: "db", Then: "g", FirstAction: ActionStart, ThenAction: ActionStart, Kind: Mandatory, Symmetrical: true})
	_ = c.AddColocation(Colocation{ID: "co", Rsc: "db", With: "a", Score: 10})
	removed, err = c.DeleteGroup("g")
	if err != nil || strings.Join(removed, " ") != "co o" || len(c.Resources) != 2 || len(c.Groups) != 0 {
		t.Fatalf("delete group: removed %v, err %v, resources %+v", removed, err, c.Resources)
	}
}

func TestGroupEditErrorsChangeNothing(t *testing.T) {
	c := grouped(t)
	if _, err := c.GroupAdd("g", []string{"a", "b"}, GroupPosition{}); err != nil {
		t.Fatal(err)
	}
	c.Groups[0].Clone = &Clone{ID: "g-clone"}
	before := encoded(t, c)
	cases := []struct {
		name string
		edit func() error
		want string
	}{
		{"clone joins", func() error { _, err := c.GroupAdd("h", []string{"web"}, GroupPosition{}); return err }, `"web" is cloned; only primitives join a group`},
		{"clone id joins", func() error { _, err := c.GroupAdd("h", []string{"web-clone"}, GroupPosition{}); return err }, `"web-clone" is cloned`},
		{"nested", func() error { _, err := c.GroupAdd("h", []string{"g"}, GroupPosition{}); return err }, `"g" is a group; groups cannot be nested`},
		{"unknown", func() error { _, err := c.GroupAdd("h", []string{"zz"}, GroupPosition{}); return err }, `no resource or clone "zz"`},
		{"id taken", func() error { _, err := c.GroupAdd("db", []string{"c"}, GroupPosition{}); return err }, `group id "db" is already used by a resource`},
		{"group clone id", func() error { _, err := c.GroupAdd("g-clone", []string{"c"}, GroupPosition{}); return err }, `"g-clone" is the clone of group "g"`},
		{"before non-member", func() error { _, err := c.GroupAdd("g", []string{"c"}, GroupPosition{Before: "db"}); return err }, `"db" is not a member (members: a, b)`},
		{"both", func() error {
			_, err := c.GroupAdd("g", []string{"c"}, GroupPosition{Before: "a", After: "b"})
			return err
		}, "not both"},
		{"twice", func() error { _, err := c.GroupAdd("g", []string{"c", "c"}, GroupPosition{}); return err }, `"c" is named twice`},
		{"remove non-member", func() error { _, err := c.GroupRemove("g", []string{"c"}); return err }, `"c" is not a member (members: a, b)`},
		{"remove unknown group", func() error { _, err := c.GroupRemove("x", nil); return err }, `no group "x" (groups: g)`},
		{"resource added as group", func() error { _, err := c.AddResource("g", "vip", ResourceSpec{}); return err }, `id "g" is already used by a group`},
	}
	for _, tc := range cases {
		err := tc.edit()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
		if after := encoded(t, c); after != before {
			t.Errorf("%s changed the model:\n got %s\nwant %s", tc.name, after, before)
		}
	}
	// Constraints name a cloned group by its clone id, never a member.
	if _, err := c.ConstraintRef("a"); err == nil || !strings.Contains(err.Error(), `member of cloned group "g"; constraints name the clone: use "g-clone"`) {
		t.Errorf("constraint on a member of a cloned group: %v", err)
	}
	if _, err := c.ConstraintRef("g"); err == nil || !strings.Contains(err.Error(), `use "g-clone"`) {
		t.Errorf("constraint on a cloned group by its id: %v", err)
	}
	if got := strings.Join(c.ResourceIDs(), " "); got != "c db g-clone web-clone" {
		t.Errorf("ids constraints may name: %q", got)
	}
}

// A group's meta is its members' default: between the cluster defaults and
// the member's own.
func TestGroupMetaLayers(t *testing.T) {
	c := grouped(t)
	if _, err := c.GroupAdd("g", []string{"a", "b"}, GroupPosition{}); err != nil {
		t.Fatal(err)
	}
	ten, hundred, two := 10, 100, 2
	c.Defaults.Stickiness = &ten
	c.Defaults.MigrationThreshold = &two
	c.Groups[0].Meta = Meta{Stickiness: &hundred, TargetRole: RoleStopped}
	b, _ := c.Resource("b")
	b.Meta.TargetRole = RoleStarted
	a, _ := c.Resource("a")
	if e := c.Effective(a); e.Stickiness != 100 || e.MigrationThreshold != 2 || e.TargetRole != RoleStopped {
		t.Errorf("a: %+v", e)
	}
	if e := c.Effective(b); e.Stickiness != 100 || e.TargetRole != RoleStarted {
		t.Errorf("b: %+v", e)
	}
}

// A live configuration record written before groups existed has no
// "groups" key: it decodes to a model without groups.
func TestOldRecordWithoutGroups(t *testing.T) {
	old := `{"nodes":[{"name":"holly"}],"resources":[{"id":"db","agent":"systemd:pg","meta":{}}],"defaults":{},"properties":{}}`
	var c CIB
	if err := json.Unmarshal([]byte(old), &c); err != nil {
		t.Fatal(err)
	}
	if c.Groups != nil || len(c.Resources) != 1 || c.Validate() != nil {
		t.Errorf("old record: %+v, %v", c, c.Validate())
	}
}

// What restart and cleanup act on for a resource, a clone or a group.
func TestPrimitivesAndOwnTargetRole(t *testing.T) {
	c := grouped(t)
	if _, err := c.GroupAdd("g", []string{"a", "b"}, GroupPosition{}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"g": "a b", "web-clone": "web", "db": "db"} {
		if got, err := c.Primitives(id); err != nil || strings.Join(got, " ") != want {
			t.Errorf("Primitives(%s) = %v, %v; want %s", id, got, err, want)
		}
	}
	if err := c.SetTargetRole("g", RoleStopped); err != nil {
		t.Fatal(err)
	}
	if own, stopped, err := c.OwnTargetRole("g"); own != RoleStopped || !stopped || err != nil {
		t.Errorf("group g: %q %v %v", own, stopped, err)
	}
	if own, stopped, err := c.OwnTargetRole("a"); own != "" || !stopped || err != nil {
		t.Errorf("member a of a stopped group: %q %v %v (want stopped by its group's meta)", own, stopped, err)
	}
	if _, err := c.Primitives("nope"); err == nil {
		t.Error("Primitives of an unknown id")
	}
}

// A cloned group may be promotable: its clone id then takes roles in
// constraints; promoted-node-max stays within the group's one copy per
// node; two promotable group clones whose ids map to one bus key are
// refused, as clones of primitives are.
func TestPromotableClonedGroup(t *testing.T) {
	c := base(t)
	for _, id := range []string{"fs", "ip"} {
		if _, err := c.AddResource(id, "systemd:"+id, ResourceSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	c.Groups = append(c.Groups, Group{ID: "g", Resources: []string{"fs", "ip"}, Clone: &Clone{ID: "g:clone", Promotable: true, PromotedMax: 1}})
	c.Colocations = append(c.Colocations, Colocation{ID: "c1", Rsc: "db", With: "g:clone", WithRole: RolePromoted, Score: Infinity})
	c.Orders = append(c.Orders, Order{ID: "o1", First: "g:clone", FirstAction: ActionPromote, Then: "db", ThenAction: ActionStart, Kind: Mandatory, Symmetrical: true})
	if ps := c.Validate(); ps != nil {
		t.Fatalf("a promotable cloned group refused: %v", ps)
	}
	if !c.Promotable("g:clone") || c.Promotable("g") || c.Promotable("fs") {
		t.Errorf("Promotable: g:clone %v, g %v, fs %v; want only the clone id", c.Promotable("g:clone"), c.Promotable("g"), c.Promotable("fs"))
	}
	// Its members' instances are a promotable clone's (a node reports
	// them Promoted), the clone id names no primitive.
	if !c.PromotableInstance("fs") || !c.PromotableInstance("ip") || c.PromotableInstance("g:clone") || c.PromotableInstance("db") {
		t.Errorf("PromotableInstance: fs %v, ip %v, g:clone %v, db %v", c.PromotableInstance("fs"), c.PromotableInstance("ip"), c.PromotableInstance("g:clone"), c.PromotableInstance("db"))
	}
	c.Groups[0].Clone.PromotedNodeMax = 2
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), "promoted-node-max 2 is more than clone-node-max 1") {
		t.Errorf("promoted-node-max 2 on a cloned group: got %v", ps)
	}
	c.Groups[0].Clone.PromotedNodeMax = 0
	c.Groups[0].Clone.Promotable = false
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), "promoted-max and promoted-node-max go with promotable = true") {
		t.Errorf("promoted-max on a group clone that is not promotable: got %v", ps)
	}
	c.Groups[0].Clone.Promotable = true
	c.Colocations, c.Orders = nil, nil
	if _, err := c.AddResource("p", "systemd:p", ResourceSpec{Clone: &Clone{ID: "g_clone", Promotable: true}}); err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(); ps == nil || !strings.Contains(ps.Error(), `clone "g:clone": its promoted role's lease keys ("promoted.g_clone.0", ...) are also clone "g_clone"'s`) {
		t.Errorf("promoted lease key collision with a group clone: got %v", ps)
	}
	if k := PromotedMemberLeaseKey("g:clone", "fs", 1); k != "promoted.g_clone/fs.1" || k == PromotedLeaseKey("g:clone", 1) {
		t.Errorf("PromotedMemberLeaseKey(g:clone, fs, 1): %q", k)
	}
}

// resource promotable on a group clones it as a promotable clone, or makes
// its clone promotable; on a member it names the group to use.
func TestMakePromotableGroup(t *testing.T) {
	c := grouped(t)
	if _, err := c.GroupAdd("g", []string{"a", "b"}, GroupPosition{}); err != nil {
		t.Fatal(err)
	}
	if err := c.MakePromotable("a", "", nil); err == nil || !strings.Contains(err.Error(), `resource "a" is in group "g"`) || !strings.Contains(err.Error(), "resource promotable g") {
		t.Errorf("promotable on a member: %v", err)
	}
	if err := c.MakePromotable("g", "", map[string]string{"promoted-max": "2"}); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.Group("g"); g.Clone == nil || g.Clone.ID != "g-clone" || !g.Clone.Promotable || g.Clone.PromotedMax != 2 {
		t.Fatalf("group g after promotable: %+v", g.Clone)
	}
	if ps := c.Validate(); ps != nil {
		t.Fatalf("invalid after promotable: %v", ps)
	}
	if err := c.MakePromotable("g-clone", "other", nil); err == nil || !strings.Contains(err.Error(), `group "g" is already cloned as "g-clone"`) {
		t.Errorf("promotable with another clone id: %v", err)
	}
	if err := c.MakePromotable("g-clone", "", map[string]string{"promoted-max": "1"}); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.Group("g"); g.Clone.PromotedMax != 1 {
		t.Errorf("promoted-max after a second promotable: %+v", g.Clone)
	}
}
