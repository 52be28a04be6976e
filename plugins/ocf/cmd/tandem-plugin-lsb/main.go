// Command tandem-plugin-lsb runs LSB init scripts (agent = "lsb:NAME",
// /etc/init.d/NAME) through the OCF bridge's machinery: start, stop and
// status with the LSB's exit codes.
package main

import "github.com/tandem-ha/tandem/plugins/ocf"

func main() { ocf.LSBMain() }
