//go:build race

package daemon_test

// raceEnabled: the race detector slows the in-process cluster several times.
const raceEnabled = true
