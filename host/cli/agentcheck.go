package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// agentMetaDataTimeout bounds one agent's meta-data call.
const agentMetaDataTimeout = 5 * time.Second

// checkAgents has each resource's agent check the file's parameters against
// its own meta-data (types, required, defaults, enums, unknown keys with a
// did-you-mean): the core knows no agent's parameters itself. It uses the
// plugins of dir (default: beside tandem), launched here and closed after.
// What the agent can only check on a node (an interface exists, a unit is
// installed) is left to the nodes: `resource create` asks them. It returns
// the problems, each at the line of the parameter, and notes for resources
// whose agent has no plugin here.
func checkAgents(ctx context.Context, f *config.File, dir string) (config.Problems, []string, error) {
	sup, err := supervisor.New(supervisor.Config{Dir: dir, OnDemand: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, nil, fmt.Errorf("checking the agents' parameters: %w", err)
	}
	if err := sup.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("checking the agents' parameters: %w", err)
	}
	defer sup.Close()
	var ps config.Problems
	var notes []string
	metas := map[string]sdk.MetaData{}
	for i, r := range f.CIB.Resources {
		path := fmt.Sprintf("resource[%d]", i)
		md, seen := metas[r.Agent]
		if !seen {
			if _, _, err := sup.Lookup(r.Agent); err != nil {
				notes = append(notes, fmt.Sprintf("resource %q: the parameters of %s were not checked: %v", r.ID, r.Agent, err))
				continue
			}
			md, err = sup.MetaData(ctx, r.Agent, agentMetaDataTimeout)
			if err != nil {
				notes = append(notes, fmt.Sprintf("resource %q: the parameters of %s were not checked: %v", r.ID, r.Agent, err))
				continue
			}
			metas[r.Agent] = md
		}
		err := sdk.ParseParams(r.Agent, md.Params, r.Params).Err()
		for _, e := range joined(err) {
			where := path + ".params"
			var pe *sdk.ParamError
			if errors.As(e, &pe) && pe.Param != "" {
				where += "." + pe.Param
			}
			ps = append(ps, config.Problem{File: f.Name, Line: f.Positions.Line(where), Msg: fmt.Sprintf("resource %q: %v", r.ID, e)})
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps, notes, nil
}

// joined lists the errors errors.Join put together (err itself otherwise).
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
