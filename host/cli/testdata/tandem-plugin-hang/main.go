// Command tandem-plugin-hang is a test agent, hang:file: start writes a
// file (DIR/NODE-RESOURCE), stop removes it, and monitor checks it exists,
// except that it never answers while the file says "hang", or while a file
// DIR/NODE.hang exists (an agent stuck on a dead file system, the second
// for good: across restarts of the resource), and says so in a file beside
// it (.hung). Each monitor that answers appends its time to a file beside
// it (.monitors).
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

type agent struct{}

var params = []sdk.ParamSpec{{Name: "dir", Type: "string", Required: true, Description: "directory of the files"}}

func (agent) Info() sdk.Info {
	return sdk.Info{Name: "hang", Types: []string{"file"}, Version: "0.1.0", APIVersions: sdk.APIVersions}
}

func (agent) MetaData(string) (sdk.MetaData, error) {
	return sdk.MetaData{Type: "file", Params: params, Actions: []sdk.ActionSpec{
		{Name: "start", Timeout: 5 * time.Second}, {Name: "stop", Timeout: 5 * time.Second},
		{Name: "monitor", Timeout: time.Second, Interval: time.Second}}}, nil
}

func (agent) Validate(context.Context, sdk.ValidateRequest) sdk.Result { return sdk.Result{} }

func path(req sdk.Request) string {
	return filepath.Join(req.Params["dir"], req.Instance.Node+"-"+req.ResourceID)
}

func (agent) Start(_ context.Context, req sdk.Request) sdk.Result {
	if err := os.WriteFile(path(req), []byte("ok"), 0o644); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "%v", err)
	}
	return sdk.Result{}
}

func (agent) Stop(_ context.Context, req sdk.Request) sdk.Result {
	if err := os.Remove(path(req)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sdk.Resultf(sdk.ErrGeneric, "%v", err)
	}
	return sdk.Result{}
}

func (agent) Monitor(_ context.Context, req sdk.Request) sdk.Result {
	b, err := os.ReadFile(path(req))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.Result{Code: sdk.NotRunning}
	case err != nil:
		return sdk.Resultf(sdk.ErrGeneric, "%v", err)
	case strings.TrimSpace(string(b)) == "hang" || exists(filepath.Join(req.Params["dir"], req.Instance.Node+".hang")):
		_ = os.WriteFile(path(req)+".hung", nil, 0o644) // for the test to see
		select {}                                       // stuck: no answer, whatever the deadline
	}
	// Each monitor that answers is noted, for the test to count.
	if f, err := os.OpenFile(path(req)+".monitors", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		_, _ = fmt.Fprintln(f, time.Now().UnixNano())
		_ = f.Close()
	}
	return sdk.Result{}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func main() { sdk.Serve(agent{}) }
