package haproxy

import (
	"os"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Main serves the haproxy plugin on stdin/stdout for the tandem host; it is
// what tandem-plugin-haproxy runs, built standalone or as a link to tandem.
// TANDEM_HAPROXY_STATE_DIR overrides where rendered configurations, sockets
// and pid files go (default /run/tandem/haproxy).
func Main() {
	sdk.Serve(NewWith(Options{StateDir: os.Getenv("TANDEM_HAPROXY_STATE_DIR")}))
}
