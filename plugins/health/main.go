package health

import (
	"os"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Main serves the health plugin on stdin/stdout for the tandem host; it is
// what tandem-plugin-health runs, built standalone or as a link to tandem.
// TANDEM_HEALTH_STATE_DIR overrides where started checks are recorded
// (default /run/tandem/health).
func Main() {
	sdk.Serve(NewWith(Options{StateDir: os.Getenv("TANDEM_HEALTH_STATE_DIR")}))
}
