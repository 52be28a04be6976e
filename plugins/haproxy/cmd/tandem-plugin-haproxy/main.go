// Command tandem-plugin-haproxy is the haproxy plugin (agent = "haproxy"):
// HAProxy through haproxy.service or as its own master-worker process, its
// servers following the nodes that run a clone. TANDEM_HAPROXY_STATE_DIR
// overrides where rendered configurations, sockets and pid files go
// (default /run/tandem/haproxy).
package main

import "github.com/tandem-ha/tandem/plugins/haproxy"

func main() { haproxy.Main() }
