// Command tandem-plugin-haproxy is the haproxy plugin (agent = "haproxy"):
// HAProxy through haproxy.service or as its own master-worker process, its
// servers following the nodes that run a clone. TANDEM_HAPROXY_STATE_DIR
// overrides where rendered configurations, sockets and pid files go
// (default /run/tandem/haproxy).
package main

import (
	"os"

	"github.com/tandem-ha/tandem/plugins/haproxy"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

func main() {
	sdk.Serve(haproxy.NewWith(haproxy.Options{StateDir: os.Getenv("TANDEM_HAPROXY_STATE_DIR")}))
}
