// Package health is the agent of HTTP(S) and TCP health checks
// (health:http, health:tcp). A check is a resource of its own: start
// begins considering it, stop forgets it, and monitor runs the check, with
// rise/fall counts so that one blip does not fail it. With the {node} and
// {node_address} placeholders, a cloned check monitors a service on every
// node (httpd-clone checked by GET http://{node_address}/).
package health

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Name is the plugin's name: agent = "health:http" or "health:tcp".
const Name = "health"

// Version is the agent's own version.
const Version = "1.0.0"

var _ sdk.Agent = (*Agent)(nil)

// Options configure an Agent.
type Options struct {
	// StateDir holds one record per started instance. Default:
	// DefaultStateDir.
	StateDir string
}

// Agent runs health checks. All methods are safe for concurrent use.
type Agent struct {
	stateDir string
	// locks serialise the record updates of each instance: two monitors of
	// one instance must not both count from the same previous state.
	locks sdk.KeyedMutex
}

// NewWith returns an agent configured by o.
func NewWith(o Options) *Agent {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	return &Agent{stateDir: o.StateDir}
}

// instanceKey names one started copy: the resource, and for a clone
// instance its index.
func instanceKey(req sdk.Request) string {
	if req.Instance.CloneIndex >= 0 {
		return fmt.Sprintf("%s:%d", req.ResourceID, req.Instance.CloneIndex)
	}
	return req.ResourceID
}

// Info describes the plugin.
func (a *Agent) Info() sdk.Info {
	return sdk.Info{Name: Name, Types: []string{TypeHTTP, TypeTCP}, Version: Version, APIVersions: sdk.APIVersions}
}

// paramSpecs are the parameters of health:http or health:tcp: MetaData
// documents them and ParseCheck checks a resource's against them.
func paramSpecs(agentType string) []sdk.ParamSpec {
	placeholders := fmt.Sprintf(" %s is replaced by the name of the node the check runs for, %s by that node's address "+
		"from cluster.toml (bracketed when IPv6), so that a cloned check tests the service on its own node.",
		PlaceholderNode, PlaceholderNodeAddress)
	common := []sdk.ParamSpec{
		{Name: ParamTimeout, Type: "duration", Default: DefaultTimeout.String(), Min: "1ms", Max: "5m",
			Description: "How long one check may take, up to 5m (a bare number is seconds). Keep it below the monitor op's timeout."},
		{Name: ParamRise, Type: "integer", Default: fmt.Sprint(DefaultRise), Min: "1", Max: "100",
			Description: "Consecutive successful checks needed to declare a down check up again (1-100)."},
		{Name: ParamFall, Type: "integer", Default: fmt.Sprint(DefaultFall), Min: "1", Max: "100",
			Description: "Consecutive failed checks needed to declare an up check down (1-100); raise it to ride out blips. " +
				"Until the first check after start has passed, one failure is enough."},
	}
	if agentType == TypeHTTP {
		return append([]sdk.ParamSpec{
			{Name: ParamURL, Type: "url", Required: true,
				Description: "URL to GET, http:// or https://, e.g. url = \"http://" + PlaceholderNodeAddress + "/\"." + placeholders},
			{Name: ParamExpectStatus, Type: "string", Default: "200",
				Description: "Status the answer must have; several as a comma-separated list (200,204)."},
			{Name: ParamExpectBody, Type: "string",
				Description: "Text the body must contain (the first 1 MiB is searched). Default: any body."},
			{Name: ParamTLSSkipVerify, Type: "boolean", Default: "false",
				Description: "For https: accept any certificate (self-signed ones). The connection is still encrypted, not authenticated."},
		}, common...)
	}
	return append([]sdk.ParamSpec{
		{Name: ParamAddress, Type: "string", Required: true,
			Description: "host:port to connect to ([v6]:port for IPv6), e.g. address = \"" + PlaceholderNodeAddress + ":80\"." + placeholders},
	}, common...)
}

// MetaData documents health:http and health:tcp.
func (a *Agent) MetaData(agentType string) (sdk.MetaData, error) {
	if err := checkType(agentType); err != nil {
		return sdk.MetaData{}, err
	}
	actions := []sdk.ActionSpec{
		{Name: "start", Timeout: 20 * time.Second},
		{Name: "stop", Timeout: 20 * time.Second},
		{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
		{Name: "validate", Timeout: 20 * time.Second},
	}
	switch agentType {
	case TypeHTTP:
		return sdk.MetaData{
			Type: TypeHTTP, Version: Version,
			ShortDesc: "HTTP(S) health check",
			LongDesc: "Monitor sends GET url (no proxy, no redirects followed, a new connection each time) and passes when the " +
				"status is one of expect_status and the body contains expect_body. Start and stop only begin and end " +
				"considering the check; rise and fall decide when a series of checks changes the verdict.",
			Params:  paramSpecs(TypeHTTP),
			Actions: actions,
		}, nil
	default:
		return sdk.MetaData{
			Type: TypeTCP, Version: Version,
			ShortDesc: "TCP connect health check",
			LongDesc:  "Monitor opens a TCP connection to address and closes it: passing means something accepts connections there.",
			Params:    paramSpecs(TypeTCP),
			Actions:   actions,
		}, nil
	}
}

// Validate checks the params. It does not run the check: the service may
// not be up yet.
func (a *Agent) Validate(ctx context.Context, req sdk.ValidateRequest) sdk.Result {
	c, err := ParseCheck(req.AgentType, req.Params)
	if err != nil {
		return notConfigured(err)
	}
	return sdk.Resultf(sdk.OK, "%s check of %s", c.Type, c.Target)
}

func notConfigured(err error) sdk.Result {
	return sdk.Result{Code: sdk.ErrNotConfigured, Message: strings.ReplaceAll(err.Error(), "\n", "; ")}
}

// Start begins considering the check. It does not run it: the first
// monitor does, and a check that fails it is down at once.
func (a *Agent) Start(ctx context.Context, req sdk.Request) sdk.Result {
	c, err := ParseCheck(req.AgentType, req.Params)
	if err != nil {
		return notConfigured(err)
	}
	if _, err := c.expand(req.Instance, req.Cluster); err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	key := instanceKey(req)
	defer a.locks.Lock(key)()
	rec, err := a.readRecord(key)
	if err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	if rec != nil {
		return sdk.Resultf(sdk.OK, "already started (%s)", rec.Tracker.Status)
	}
	if err := a.writeRecord(key, record{Resource: req.ResourceID, Clone: req.Instance.CloneIndex, Tracker: Tracker{Status: Starting}}); err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	return sdk.Resultf(sdk.OK, "started: the next monitor checks %s", c.Target)
}

// Stop forgets the check.
func (a *Agent) Stop(ctx context.Context, req sdk.Request) sdk.Result {
	key := instanceKey(req)
	defer a.locks.Lock(key)()
	if err := a.removeRecord(key); err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	return sdk.Result{Code: sdk.OK, Message: "stopped"}
}

// Monitor runs the check of a started instance and reports the verdict
// after rise/fall: OK while up, ErrGeneric while down, NotRunning when
// the instance is not started (no check is run then).
func (a *Agent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	c, err := ParseCheck(req.AgentType, req.Params)
	if err != nil {
		return notConfigured(err)
	}
	key := instanceKey(req)
	defer a.locks.Lock(key)()
	rec, err := a.readRecord(key)
	if err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	if rec == nil {
		return sdk.Result{Code: sdk.NotRunning, Message: "not started"}
	}
	target, err := c.expand(req.Instance, req.Cluster)
	if err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	o := c.run(ctx, target)
	before := rec.Tracker
	rec.Tracker.Observe(o.OK, c.Rise, c.Fall)
	if rec.Tracker != before {
		if err := a.writeRecord(key, *rec); err != nil {
			return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
		}
	}
	return verdict(rec.Tracker, c, o)
}

func verdict(t Tracker, c Check, o outcome) sdk.Result {
	switch {
	case t.Status == Up && o.OK:
		return sdk.Result{Code: sdk.OK, Message: "up: " + o.Detail}
	case t.Status == Up:
		return sdk.Resultf(sdk.OK, "up, failing %d of %d before down: %s", t.FailRun, c.Fall, o.Detail)
	case o.OK:
		return sdk.Resultf(sdk.ErrGeneric, "down, passing %d of %d before up: %s", t.OKRun, c.Rise, o.Detail)
	}
	return sdk.Resultf(sdk.ErrGeneric, "down: %s", o.Detail)
}
