// Command tandem-plugin-health is the health plugin: HTTP(S) and TCP checks
// (agent = "health:http", "health:tcp"). TANDEM_HEALTH_STATE_DIR overrides
// where started checks are recorded (default /run/tandem/health).
package main

import (
	"os"

	"github.com/tandem-ha/tandem/plugins/health"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

func main() {
	sdk.Serve(health.NewWith(health.Options{StateDir: os.Getenv("TANDEM_HEALTH_STATE_DIR")}))
}
