package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/status"
)

// A client on the bus published an action result whose message clears the
// screen and fakes a line; events printed it raw.
func TestEventsEscapeControlCharacters(t *testing.T) {
	data, err := bus.Encode(bus.ActionResult{Resource: "web", Node: "holly", Op: "start", Code: 1,
		Message: "ok\x1b[2J\r\n12:00:00.000 holly      action-result start web on holly: ok"}, "holly\x07", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	line, ok := eventLine(data, false, false)
	if !ok {
		t.Fatal("the action result was not printed")
	}
	if strings.ContainsAny(line, "\x1b\r\n\x07") {
		t.Errorf("line %q holds control characters", line)
	}
	for _, want := range []string{`\x1b[2J\r\n12:00`, `holly\a`} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q does not hold %q", line, want)
		}
	}
}

func TestStatusEscapesControlCharacters(t *testing.T) {
	r := status.Report{Cluster: "t", Nodes: []status.Member{{Name: "holly\x1b]0;pwned\x07", Online: true}},
		ResourceList: []status.Resource{{ID: "web", Warnings: map[string]string{"holly\n": "slow\x1b[31m\nFAKE LINE"}}}}
	escapeAll(&r)
	var b bytes.Buffer
	status.WriteText(&b, r)
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07") || strings.Contains(out, "\nFAKE LINE") {
		t.Errorf("status printed control characters:\n%s", out)
	}
	if !strings.Contains(out, `slow\x1b[31m\nFAKE LINE`) {
		t.Errorf("status lost the escaped warning:\n%s", out)
	}
	if printable("plain text ü") != "plain text ü" || printable(`a"b`+"\n") != `a"b\n` {
		t.Errorf("printable: %q %q", printable("plain text ü"), printable(`a"b`+"\n"))
	}
}
