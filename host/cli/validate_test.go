package cli

import (
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// A node whose agent answers validate too late neither accepts nor
// refuses: the change goes on with a warning naming the node (a busy CI
// machine once refused a create with "timed out ...: ok").
func TestJudgeValidation(t *testing.T) {
	late := daemon.ValidateAnswer{Node: "benji", Known: true, Code: sdk.ErrGeneric, TimedOut: true, Message: "validate example:process timed out after 4s: the agent answered 312ms late: ok"}
	ok := daemon.ValidateAnswer{Node: "holly", Known: true, Code: sdk.OK}
	refused := daemon.ValidateAnswer{Node: "holly", Known: true, Code: sdk.ErrNotConfigured, Message: `command "sleep": must be an absolute path`}
	unknown := daemon.ValidateAnswer{Node: "holly", Known: false, Code: sdk.ErrNotInstalled, Message: "no plugin example (plugins: vip)"}

	for _, tc := range []struct {
		name    string
		answers []daemon.ValidateAnswer
		err     string
		notes   []string
	}{
		{"late and ok", []daemon.ValidateAnswer{late, ok}, "", []string{"Warning: benji did not finish validating"}},
		{"only late", []daemon.ValidateAnswer{late}, "", []string{"Warning: benji did not finish validating"}},
		{"late and refused", []daemon.ValidateAnswer{late, refused}, `agent example:process refused the parameters (validated on holly): command "sleep"`, nil},
		{"unknown everywhere", []daemon.ValidateAnswer{unknown}, `unknown agent "example:process"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes, err := judgeValidation("example:process", tc.answers)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			if len(notes) != len(tc.notes) {
				t.Fatalf("notes %q, want %q", notes, tc.notes)
			}
			for i := range notes {
				if !strings.HasPrefix(notes[i], tc.notes[i]) {
					t.Errorf("note %q, want prefix %q", notes[i], tc.notes[i])
				}
			}
		})
	}
}
