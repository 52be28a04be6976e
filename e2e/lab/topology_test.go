package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
)

func TestTopologyConfigs(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ nodes, voters string }{
		"reference": {"holly benji", "holly benji director"},
		"three":     {"holly benji carol", "holly benji carol"},
		"five":      {"holly benji carol dave erin", "holly benji carol"},
	}
	for name := range Topologies {
		data, err := TopologyConfig(ref, name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := config.Parse(name+".toml", data)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, data)
		}
		var voters []string
		for _, m := range f.Topology.Voters() {
			voters = append(voters, m.Name)
		}
		got := strings.Join(f.Topology.NodeNames(), " ")
		if got != want[name].nodes || strings.Join(voters, " ") != want[name].voters {
			t.Errorf("%s: nodes %q voters %v, want %+v", name, got, voters, want[name])
		}
		if len(f.CIB.Resources) != 3 {
			t.Errorf("%s: %d resources, want the reference's 3", name, len(f.CIB.Resources))
		}
	}
	ocf, err := WithIPaddr2(ref, 27)
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse("ocf.toml", ocf)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := f.CIB.Resource("VIP-198.18.0.23"); r == nil || r.Agent != "ocf:heartbeat:IPaddr2" || r.Params["cidr_netmask"] != "27" || r.Params["ip"] != "198.18.0.23" {
		t.Errorf("WithIPaddr2: VIP resource %+v", r)
	}
	if _, err := WithIPaddr2(ocf, 27); err == nil {
		t.Error("WithIPaddr2 of a file without a vip resource: no error")
	}
	apache, err := WithApacheOCF(ocf)
	if err != nil {
		t.Fatal(err)
	}
	if f, err = config.Parse("apache.toml", apache); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.CIB.Resource("httpd"); r == nil || r.Agent != "ocf:heartbeat:apache" || r.Params["configfile"] != ApacheConfigFile || r.Params["statusurl"] != ApacheStatusURL || r.Clone == nil {
		t.Errorf("WithApacheOCF: httpd resource %+v", r)
	}
	if r, _ := f.CIB.Resource("VIP-198.18.0.23"); r == nil || r.Agent != "ocf:heartbeat:IPaddr2" {
		t.Errorf("WithApacheOCF changed the VIP resource: %+v", r)
	}
	if _, err := WithApacheOCF(apache); err == nil {
		t.Error("WithApacheOCF of a file without a systemd:apache2 resource: no error")
	}
	if _, err := TopologyConfig(ref, "seven"); err == nil || !strings.Contains(err.Error(), `unknown lab topology "seven"`) {
		t.Errorf("unknown topology: %v", err)
	}
}
