package sdk_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// specs declares one parameter of each kind the helper types.
var specs = []sdk.ParamSpec{
	{Name: "ip", Type: "ip", Required: true, Description: "the address to float, e.g. 198.18.0.23"},
	{Name: "count", Type: "integer", Default: "5", Min: "0", Max: "100", Description: "how many"},
	{Name: "big", Type: "integer", Min: "10", Description: "at least ten"},
	{Name: "small", Type: "integer", Max: "3", Description: "at most three"},
	{Name: "any", Type: "integer", Description: "any integer"},
	{Name: "port", Type: "port", Default: "80", Description: "a port"},
	{Name: "refresh", Type: "boolean", Default: "false", Description: "refresh"},
	{Name: "every", Type: "duration", Default: "200ms", Min: "1ms", Max: "10s", Unit: "ms", Description: "interval"},
	{Name: "timeout", Type: "duration", Default: "5s", Description: "timeout"},
	{Name: "mode", Type: "enum", Values: []string{"http", "tcp"}, Default: "http", Description: "mode"},
	{Name: "balance", Type: "enum", Values: []string{"roundrobin", "leastconn", "source"}, Description: "balance"},
	{Name: "user", Type: "string", Default: "haproxy", Description: "user; empty for root"},
	{Name: "body", Type: "string", Description: "text to find"},
	{Name: "url", Type: "url", Description: "a URL"},
}

func TestParseParamsValuesAndDefaults(t *testing.T) {
	v := sdk.ParseParams("test", specs, map[string]string{"ip": " 2001:2::23 "})
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	if v.IP("ip") != netip.MustParseAddr("2001:2::23") || v.Int("count") != 5 || v.Int("port") != 80 || v.Bool("refresh") ||
		v.Duration("every") != 200*time.Millisecond || v.Duration("timeout") != 5*time.Second || v.String("mode") != "http" ||
		v.String("balance") != "" || v.String("user") != "haproxy" || v.Int("any") != 0 {
		t.Errorf("defaults: %+v", v)
	}
	if !v.Given("ip") || v.Given("count") || v.Given("user") {
		t.Error("Given: ip is given, count and user are not")
	}

	cases := []struct {
		params map[string]string
		check  func(*sdk.ParamValues) bool
	}{
		{map[string]string{"count": "0"}, func(v *sdk.ParamValues) bool { return v.Int("count") == 0 }},
		{map[string]string{"count": " 100 "}, func(v *sdk.ParamValues) bool { return v.Int("count") == 100 }},
		{map[string]string{"count": ""}, func(v *sdk.ParamValues) bool { return v.Int("count") == 5 && !v.Given("count") }},
		{map[string]string{"big": "1000000"}, func(v *sdk.ParamValues) bool { return v.Int("big") == 1000000 }},
		{map[string]string{"small": "-7"}, func(v *sdk.ParamValues) bool { return v.Int("small") == -7 }},
		{map[string]string{"port": "65535"}, func(v *sdk.ParamValues) bool { return v.Int("port") == 65535 }},
		{map[string]string{"refresh": "YES"}, func(v *sdk.ParamValues) bool { return v.Bool("refresh") }},
		{map[string]string{"refresh": "on"}, func(v *sdk.ParamValues) bool { return v.Bool("refresh") }},
		{map[string]string{"refresh": "y"}, func(v *sdk.ParamValues) bool { return v.Bool("refresh") }},
		{map[string]string{"refresh": "1"}, func(v *sdk.ParamValues) bool { return v.Bool("refresh") }},
		{map[string]string{"refresh": "Off"}, func(v *sdk.ParamValues) bool { return !v.Bool("refresh") && v.Given("refresh") }},
		{map[string]string{"every": "500"}, func(v *sdk.ParamValues) bool { return v.Duration("every") == 500*time.Millisecond }},
		{map[string]string{"every": "1s"}, func(v *sdk.ParamValues) bool { return v.Duration("every") == time.Second }},
		{map[string]string{"timeout": "3"}, func(v *sdk.ParamValues) bool { return v.Duration("timeout") == 3*time.Second }},
		{map[string]string{"timeout": "1m30s"}, func(v *sdk.ParamValues) bool { return v.Duration("timeout") == 90*time.Second }},
		{map[string]string{"mode": "tcp"}, func(v *sdk.ParamValues) bool { return v.String("mode") == "tcp" }},
		{map[string]string{"user": ""}, func(v *sdk.ParamValues) bool { return v.String("user") == "" && v.Given("user") }},
		{map[string]string{"user": " web "}, func(v *sdk.ParamValues) bool { return v.String("user") == "web" }},
		{map[string]string{"body": " Hello "}, func(v *sdk.ParamValues) bool { return v.Raw("body") == " Hello " && v.String("body") == "Hello" }},
		{map[string]string{"url": "http://{node_address}/"}, func(v *sdk.ParamValues) bool { return v.String("url") == "http://{node_address}/" }},
	}
	for _, c := range cases {
		c.params["ip"] = "198.18.0.23"
		v := sdk.ParseParams("test", specs, c.params)
		if err := v.Err(); err != nil {
			t.Errorf("%v: %v", c.params, err)
			continue
		}
		if !c.check(v) {
			t.Errorf("%v: wrong value", c.params)
		}
	}
}

// Every problem is reported at once, each naming its parameter and saying
// what would be right.
func TestParseParamsProblems(t *testing.T) {
	cases := []struct {
		params map[string]string
		want   []string
	}{
		{map[string]string{}, []string{"ip is required: the address to float, e.g. 198.18.0.23"}},
		{map[string]string{"ip": "  "}, []string{"ip is required"}},
		{map[string]string{"ip": "198.18.0.300"}, []string{`ip "198.18.0.300": not an IP address`}},
		{map[string]string{"count": "-1"}, []string{`count "-1": must be an integer from 0 to 100`}},
		{map[string]string{"count": "many"}, []string{`count "many": must be an integer from 0 to 100`}},
		{map[string]string{"big": "9"}, []string{`big "9": must be an integer of at least 10`}},
		{map[string]string{"small": "4"}, []string{`small "4": must be an integer of at most 3`}},
		{map[string]string{"any": "1.5"}, []string{`any "1.5": must be an integer`}},
		{map[string]string{"port": "0"}, []string{`port "0": must be a port number from 1 to 65535`}},
		{map[string]string{"refresh": "maybe"}, []string{`refresh "maybe": not a boolean (true or false)`}},
		{map[string]string{"every": "fast"}, []string{`every "fast": not a duration`, "a bare number is milliseconds"}},
		{map[string]string{"every": "1h"}, []string{`every "1h": must be a duration from 1ms to 10s`}},
		{map[string]string{"every": "0"}, []string{`every "0": must be a duration from 1ms to 10s`}},
		{map[string]string{"timeout": "-1s"}, []string{`timeout "-1s": must not be negative`}},
		{map[string]string{"timeout": "soon"}, []string{"a bare number is seconds"}},
		{map[string]string{"mode": "udp"}, []string{`mode "udp": must be http or tcp`}},
		{map[string]string{"mode": "HTTP"}, []string{`mode "HTTP": must be http or tcp (did you mean http?)`}},
		{map[string]string{"balance": "roundrobbin"}, []string{"must be one of roundrobin, leastconn or source (did you mean roundrobin?)"}},
		{map[string]string{"cidr": "24"}, []string{`unknown parameter "cidr" (test takes ip, count, big,`}},
		{map[string]string{"cuont": "1"}, []string{`unknown parameter "cuont": did you mean count?`}},
		{map[string]string{"Refresh": "1"}, []string{`unknown parameter "Refresh": did you mean refresh?`}},
		{map[string]string{"time_out": "1"}, []string{`did you mean timeout?`}},
		{map[string]string{"ip": "nope", "count": "101", "zzz": "1"}, []string{`ip "nope"`, `count "101"`, `unknown parameter "zzz"`}},
	}
	for _, c := range cases {
		v := sdk.ParseParams("test", specs, c.params)
		err := v.Err()
		if err == nil {
			t.Errorf("%v: accepted", c.params)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not say %q", c.params, err, w)
			}
		}
	}
}

// Problems come unknown keys first, then in declaration order, whatever
// the order they were found in; each is a *sdk.ParamError naming its
// parameter.
func TestParseParamsOrderAndAgentProblems(t *testing.T) {
	v := sdk.ParseParams("test", specs, map[string]string{"ip": "224.0.0.1", "mode": "udp", "every": "x", "bogus": "1"})
	if ip := v.IP("ip"); !ip.IsMulticast() {
		t.Fatalf("ip parsed as %v", ip)
	}
	v.Invalid("ip", "is not a unicast host address")
	if v.IP("ip").IsValid() || !v.Failed("ip") || v.Failed("count") {
		t.Error("Invalid keeps the value or Failed is wrong")
	}
	v.Problem("", "count and big cannot both be set")
	v.Problem("user", "user needs a group")
	lines := strings.Split(v.Err().Error(), "\n")
	want := []string{`unknown parameter "bogus"`, `ip "224.0.0.1": is not a unicast`, `every "x"`, `mode "udp"`, "user needs a group", "count and big cannot"}
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(lines), len(want), v.Err())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d is %q, want it to start with %q", i, lines[i], w)
		}
	}
	var pe *sdk.ParamError
	if !errors.As(v.Err(), &pe) || pe.Param != "bogus" {
		t.Errorf("errors.As: %+v", pe)
	}
	if u := v.Unknown(); len(u) != 1 || u[0] != "bogus" {
		t.Errorf("Unknown() = %v", u)
	}
}

// Reading a parameter the specs do not declare, or as another type, is a
// bug in the agent: it panics, so that its tests show it.
func TestParseParamsMisuse(t *testing.T) {
	v := sdk.ParseParams("test", specs, map[string]string{"ip": "198.18.0.23"})
	for name, f := range map[string]func(){
		"undeclared": func() { v.Int("nope") },
		"wrong type": func() { v.Bool("count") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// A default the agent got wrong is reported as the agent's bug.
	bad := []sdk.ParamSpec{{Name: "n", Type: "integer", Default: "five", Description: "n"}}
	if err := sdk.ParseParams("buggy", bad, nil).Err(); err == nil || !strings.Contains(err.Error(), "bug in buggy") {
		t.Errorf("bad default: %v", err)
	}
}

func TestParamSpecProblems(t *testing.T) {
	if p := sdk.ParamSpecProblems(specs); len(p) != 0 {
		t.Errorf("good specs: %v", p)
	}
	cases := []struct {
		spec sdk.ParamSpec
		want string
	}{
		{sdk.ParamSpec{Name: "a", Type: "float"}, `type "float"`},
		{sdk.ParamSpec{Name: "a", Type: "enum"}, "lists no Values"},
		{sdk.ParamSpec{Name: "a", Type: "enum", Values: []string{"x", "x"}}, "listed twice"},
		{sdk.ParamSpec{Name: "a", Type: "string", Values: []string{"x"}}, "only an enum"},
		{sdk.ParamSpec{Name: "a", Type: "integer", Min: "one"}, `Min "one" is not an integer`},
		{sdk.ParamSpec{Name: "a", Type: "integer", Min: "5", Max: "1"}, "Min 5 is above Max 1"},
		{sdk.ParamSpec{Name: "a", Type: "duration", Max: "10"}, `Max "10" is not a duration`},
		{sdk.ParamSpec{Name: "a", Type: "duration", Unit: "d"}, `Unit "d"`},
		{sdk.ParamSpec{Name: "a", Type: "string", Max: "3"}, "only integer, port and duration"},
		{sdk.ParamSpec{Name: "a", Type: "integer", Unit: "s"}, "only a duration has one"},
		{sdk.ParamSpec{Name: "a", Type: "integer", Required: true, Default: "1"}, "required but has default"},
		{sdk.ParamSpec{Name: "a", Type: "integer", Max: "3", Default: "4"}, `default "4": must be an integer of at most 3`},
		{sdk.ParamSpec{Name: "a", Type: "boolean", Default: "maybe"}, `default "maybe": not a boolean`},
		{sdk.ParamSpec{Name: "a", Type: "enum", Values: []string{"x"}, Default: "y"}, `default "y": must be x`},
	}
	for _, c := range cases {
		p := sdk.ParamSpecProblems([]sdk.ParamSpec{c.spec})
		if len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), c.want) {
			t.Errorf("%+v: %v; want %q", c.spec, p, c.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"ip", "cidr_netmask", "nic", "arp_count", "arp_interval", "arp_refresh", "label"}
	for in, want := range map[string]string{
		"cidr":        "cidr_netmask",
		"netmask":     "cidr_netmask",
		"arp-count":   "arp_count",
		"arp_counts":  "arp_count",
		"ARP_REFRESH": "arp_refresh",
		"lable":       "label",
		"nics":        "nic",
		"IP":          "ip",
		"interface":   "",
		"frobnicate":  "",
		"x":           "",
	} {
		if got := sdk.Suggest(in, names); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
