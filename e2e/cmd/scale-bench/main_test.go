package main

import (
	"testing"

	"github.com/nats-io/nats.go"
)

func TestParsePortRange(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"32768\t60999\n", 32768, 60999, true},
		{"50000 60999", 50000, 60999, true},
		{"60999 32768", 0, 0, false},
		{"", 0, 0, false},
		{"1 2 3", 0, 0, false},
		{"a b", 0, 0, false},
	} {
		lo, hi, ok := parsePortRange(c.in)
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("parsePortRange(%q) = %d, %d, %v; want %d, %d, %v", c.in, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := parseList("8, 16,32")
	if err != nil || len(got) != 3 || got[0] != 8 || got[1] != 16 || got[2] != 32 {
		t.Fatalf("parseList: %v %v", got, err)
	}
	for _, bad := range []string{"", "8,", "0", "-4", "x"} {
		if _, err := parseList(bad); err == nil {
			t.Errorf("parseList(%q): no error", bad)
		}
	}
}

func TestKindOf(t *testing.T) {
	for in, want := range map[string]string{
		"tandem.state.n01":         "state",
		"tandem.heartbeat.n02":     "heartbeat",
		"tandem.lease.grant.renew": "lease",
		"$JS.API.STREAM.INFO.x":    "$JS",
		"_INBOX.abc.def":           "_INBOX",
		"tandem":                   "tandem",
	} {
		if got := kindOf(in); got != want {
			t.Errorf("kindOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMsgKind(t *testing.T) {
	for _, c := range []struct{ subject, reply, want string }{
		{"_INBOX.a.b", "$JS.ACK.KV_tandem-state.abc.1.2.3.4.5", "_INBOX watch KV_tandem-state"},
		{"_INBOX.a.b", "", "_INBOX reply"},
		{"_INBOX.a.b", "_INBOX.x.y", "_INBOX reply"},
		{"$JS.API.STREAM.INFO.KV_tandem-state", "_INBOX.x.y", "$JS.API.STREAM.INFO"},
		{"$JS.API.CONSUMER.INFO.KV_tandem-state.abc", "_INBOX.x.y", "$JS.API.CONSUMER.INFO"},
		{"$JS.API.INFO", "_INBOX.x.y", "$JS.API.INFO"},
		{"$JS.ACK.KV_tandem-state.abc.1.2.3.4.5", "", "$JS.ACK.KV_tandem-state"},
		{"$JS.EVENT.ADVISORY.API", "", "$JS.EVENT.ADVISORY"},
		{"tandem.lease.grant.n01", "_INBOX.x.y", "lease"},
	} {
		if got := msgKind(&nats.Msg{Subject: c.subject, Reply: c.reply}); got != c.want {
			t.Errorf("msgKind(%q, reply %q) = %q, want %q", c.subject, c.reply, got, c.want)
		}
	}
}
