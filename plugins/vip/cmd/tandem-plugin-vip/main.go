// Command tandem-plugin-vip is the vip plugin: floating IPv4 addresses
// (agent = "vip"). It needs CAP_NET_ADMIN and CAP_NET_RAW in the node's
// network namespace. TANDEM_VIP_STATE_DIR overrides where the ownership
// records go (default /run/tandem/vip).
package main

import "github.com/tandem-ha/tandem/plugins/vip"

func main() { vip.Main() }
