package main

import "testing"

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
