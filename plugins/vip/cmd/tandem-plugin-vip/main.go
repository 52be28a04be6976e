// Command tandem-plugin-vip is the vip plugin: floating IPv4 addresses
// (agent = "vip"). It needs CAP_NET_ADMIN and CAP_NET_RAW in the node's
// network namespace. TANDEM_VIP_STATE_DIR overrides where the ownership
// records go (default /run/tandem/vip).
package main

import (
	"os"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/vip"
)

func main() {
	dir := vip.DefaultStateDir
	if d := os.Getenv("TANDEM_VIP_STATE_DIR"); d != "" {
		dir = d
	}
	sdk.Serve(vip.NewWith(vip.Options{StateDir: dir}))
}
