// Command tandem-plugin-ocf is the OCF bridge: Pacemaker's OCF resource
// agents (agent = "ocf:PROVIDER:TYPE", e.g. ocf:heartbeat:IPaddr2) run
// unchanged under the OCF Resource Agent API 1.1, from OCF_ROOT
// (/usr/lib/ocf unless the environment says otherwise).
package main

import "github.com/tandem-ha/tandem/plugins/ocf"

func main() { ocf.Main() }
