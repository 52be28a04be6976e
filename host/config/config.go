// Package config is the cluster.toml file and nothing else: its schema, the
// defaults a member applies to what the file leaves out, the problems a file
// can have (each with file:line), and the encoding back to text.
//
// A file holds two things that live apart once read: the bootstrap settings
// (the cluster's name, [bus], the members' addresses and the witness: a
// bus.Topology, which only a restart of the members changes) and the cluster
// model (resources, constraints, defaults, properties, node attributes: a
// cib.CIB, which the live configuration takes over after the first start and
// the CLI edits). Load returns both, and the positions of what was read, for
// error messages.
package config

import (
	"errors"
	"fmt"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// File is a parsed, defaulted, valid cluster file.
type File struct {
	Name     string        // the path it was read from (or the name given to Parse)
	Topology *bus.Topology // the bootstrap settings, defaults applied
	CIB      *cib.CIB      // the cluster model
	// Positions says on which line each table and key was read.
	Positions *Positions
	// PluginDir is [plugins] dir: where this host's tandem-plugin-*
	// executables are; "" for the default (supervisor.DefaultDir).
	PluginDir string
}

// The defaults of the bootstrap settings, applied by decode and nowhere else.
const (
	DefaultClientPort  = 4222
	DefaultClusterPort = 6222
	DefaultDataDir     = "/var/lib/tandem"
	DefaultCredentials = "/etc/tandem/cluster.key"
)

// Load reads, parses and validates a cluster file. On failure the error is a
// Problems listing everything wrong, each with file:line.
func Load(path string) (*File, error) {
	data, err := readLimited(path)
	if errors.As(err, new(limitError)) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading cluster configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a cluster file's contents; name is used in
// problem locations. Data over MaxFileSize or nested deeper than MaxNesting
// is refused before it is decoded (the error matches ErrLimit).
func Parse(name string, data []byte) (*File, error) {
	if err := checkLimits(name, data); err != nil {
		return nil, err
	}
	f, ps := decode(name, data)
	if f != nil {
		validate(f, ps)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return f, nil
}
