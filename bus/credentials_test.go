package bus_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
)

// A client whose certificate comes from another CA (a host set up for
// another cluster, a stale copy of the PKI) is told its credentials were
// refused, not that the bus is unreachable; so is one that trusts another
// CA than the servers'.
func TestForeignCredentialsAreNamed(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	tc.ready("holly")
	other := *cfg
	other.TLS = &TLS{Dir: bustest.PKI(t, &other)} // another CA, same members
	_, err := Connect(ConnectOptions{Topology: &other, Name: "foreign"})
	if err == nil {
		t.Fatal("a client of another CA connected")
	}
	if !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("connect with another CA's certificate: %v; want ErrCredentials naming the certificate", err)
	}
	t.Logf("another CA: %v", err)

	// The cluster's CA trusted, but a certificate of another CA at hand:
	// refused before anything is sent, naming the file.
	dir := other.TLS.Dir
	mixed := *cfg
	_, _, ca := cfg.TLS.Files(AdminIdentity)
	mixed.TLS = &TLS{Cert: filepath.Join(dir, "admin.crt"), Key: filepath.Join(dir, "admin.key"), CA: ca}
	_, err = Connect(ConnectOptions{Topology: &mixed, Name: "foreign"})
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "admin.crt is not valid under the cluster CA") {
		t.Errorf("connect with a certificate of another CA: %v; want ErrNoCredentials naming admin.crt", err)
	}
	t.Logf("a certificate of another CA: %v", err)

	// Nobody listening is not a credentials problem.
	gone := *cfg
	gone.Members = []Member{{Name: "holly", Address: "127.0.0.1", ClientPort: freePorts(t, 1)[0], ClusterPort: freePorts(t, 1)[0]}}
	if _, err := Connect(ConnectOptions{Topology: &gone, Name: "nobody"}); err == nil || errors.Is(err, ErrCredentials) {
		t.Errorf("connect to a closed port: %v; want an error that is not ErrCredentials", err)
	}
}
