package cli

import (
	"context"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Shell completion of ids: resource, clone and group ids, node names,
// constraint, alert and recipient ids, from the live configuration when the bus answers within
// completionWait, else from the local cluster file, never file names.

// completionWait bounds how long a completion waits for the bus.
const completionWait = 1500 * time.Millisecond

// What an argument position completes.
type idKind int

const (
	resourceIDs idKind = iota
	nodeNames
	constraintIDs
	groupIDs
	alertIDs
	recipientIDs
)

// idArgs says what each argument of a command completes, by its path
// below tandem; the last kind repeats for further arguments when the
// command takes several.
var idArgs = map[string]struct {
	kinds  []idKind
	repeat bool
}{
	"resource move":          {[]idKind{resourceIDs, nodeNames}, false},
	"resource ban":           {[]idKind{resourceIDs, nodeNames}, false},
	"resource clear":         {[]idKind{resourceIDs, nodeNames}, false},
	"resource config":        {[]idKind{resourceIDs}, true},
	"resource delete":        {[]idKind{resourceIDs}, false},
	"resource disable":       {[]idKind{resourceIDs}, true},
	"resource enable":        {[]idKind{resourceIDs}, true},
	"resource restart":       {[]idKind{resourceIDs}, false},
	"resource update":        {[]idKind{resourceIDs}, false},
	"resource cleanup":       {[]idKind{resourceIDs}, false},
	"resource group add":     {[]idKind{groupIDs, resourceIDs}, true},
	"resource group remove":  {[]idKind{groupIDs, resourceIDs}, true},
	"node standby":           {[]idKind{nodeNames}, true},
	"node unstandby":         {[]idKind{nodeNames}, true},
	"node maintenance":       {[]idKind{nodeNames}, true},
	"node unmaintenance":     {[]idKind{nodeNames}, true},
	"node attribute":         {[]idKind{nodeNames}, false},
	"constraint remove":      {[]idKind{constraintIDs}, true},
	"alert update":           {[]idKind{alertIDs}, false},
	"alert remove":           {[]idKind{alertIDs}, true},
	"alert recipient add":    {[]idKind{alertIDs}, false},
	"alert recipient remove": {[]idKind{recipientIDs}, true},
}

// completeIDs gives the commands of idArgs their completion; it leaves a
// command that has its own alone.
func completeIDs(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		spec, ok := idArgs[strings.TrimPrefix(c.CommandPath(), root.Name()+" ")]
		if !ok || c.ValidArgsFunction != nil {
			return
		}
		c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			i := len(args)
			if i >= len(spec.kinds) {
				if !spec.repeat {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				i = len(spec.kinds) - 1
			}
			model := completionModel(cmd)
			if model == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, id := range idsOf(model, spec.kinds[i]) {
				if strings.HasPrefix(id, toComplete) && !slices.Contains(args, id) {
					out = append(out, id)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
	}
	walk(root)
}

// completionModel is the live configuration's model, or the cluster
// file's when the bus does not answer in time; nil when neither is there.
func completionModel(cmd *cobra.Command) *cib.CIB {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("TANDEM_CONFIG")
	}
	if path == "" {
		path = DefaultConfigPath
	}
	file, err := config.Load(path)
	if err != nil {
		return nil
	}
	done := make(chan *cib.CIB, 1)
	go func() {
		conn, err := cliConnect(file.Topology)
		if err != nil {
			done <- nil
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), completionWait)
		defer cancel()
		store, err := liveconfig.OpenClient(ctx, conn)
		if err != nil {
			done <- nil
			return
		}
		rev, _, err := store.Usable(ctx)
		if err != nil {
			done <- nil
			return
		}
		done <- rev.CIB
	}()
	select {
	case c := <-done:
		if c != nil {
			return c
		}
	case <-time.After(completionWait):
	}
	return file.CIB
}

// idsOf lists the ids of one kind in c, sorted.
func idsOf(c *cib.CIB, k idKind) []string {
	var ids []string
	switch k {
	case resourceIDs:
		for _, r := range c.Resources {
			ids = append(ids, r.ID)
			if r.Clone != nil {
				ids = append(ids, r.Clone.ID)
			}
		}
		for _, g := range c.Groups {
			ids = append(ids, g.ID)
			if g.Clone != nil {
				ids = append(ids, g.Clone.ID)
			}
		}
	case groupIDs:
		for _, g := range c.Groups {
			ids = append(ids, g.ID)
		}
	case nodeNames:
		ids = c.NodeNames()
	case constraintIDs:
		ids = c.ConstraintIDs()
	case alertIDs:
		ids = c.AlertIDs()
	case recipientIDs:
		for _, a := range c.Alerts {
			for _, r := range a.Recipients {
				ids = append(ids, r.ID)
			}
		}
	}
	sort.Strings(ids)
	return ids
}
