package vip

import (
	"strings"
	"testing"
	"time"
)

func TestParseParamsDefaults(t *testing.T) {
	p, err := ParseParams(map[string]string{"ip": "198.18.0.70"})
	if err != nil {
		t.Fatal(err)
	}
	if p.IP != testIP || p.Prefix != 0 || p.NIC != "" || p.ARPCount != DefaultARPCount || p.ARPInterval != DefaultARPInterval || p.ARPRefresh || p.Label != "" {
		t.Errorf("defaults: %+v", p)
	}
}

func TestParseParamsAll(t *testing.T) {
	p, err := ParseParams(map[string]string{
		"ip": "198.18.0.70", "cidr_netmask": "255.255.255.224", "nic": "eth0",
		"arp_count": "3", "arp_interval": "500", "arp_refresh": "yes", "label": "web",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Prefix != 27 || p.NIC != "eth0" || p.ARPCount != 3 || p.ARPInterval != 500*time.Millisecond || !p.ARPRefresh || p.Label != "web" {
		t.Errorf("parsed %+v", p)
	}
	p, err = ParseParams(map[string]string{"ip": "198.18.0.70", "cidr_netmask": "24", "arp_interval": "1s"})
	if err != nil || p.Prefix != 24 || p.ARPInterval != time.Second {
		t.Errorf("parsed %+v, %v", p, err)
	}
}

// IPv6 VIPs: any prefix length to 128, the announcement params apply to
// neighbour advertisements, and an IPv4-mapped address is its IPv4 one.
func TestParseParamsIPv6(t *testing.T) {
	p, err := ParseParams(map[string]string{"ip": "2001:2:0::23", "cidr_netmask": "128", "arp_count": "2", "arp_interval": "50"})
	if err != nil {
		t.Fatal(err)
	}
	if p.IP.String() != "2001:2::23" || p.Prefix != 128 || p.ARPCount != 2 || p.ARPInterval != 50*time.Millisecond {
		t.Errorf("parsed %+v", p)
	}
	if p, err := ParseParams(map[string]string{"ip": "2001:2::", "cidr_netmask": "127"}); err != nil || p.Prefix != 127 {
		t.Errorf("a /127 has no anycast address (RFC 6164): %+v %v", p, err)
	}
	if p, err := ParseParams(map[string]string{"ip": "fd00:2::23"}); err != nil || !p.IP.Is6() {
		t.Errorf("unique-local: %+v %v", p, err)
	}
	if p, err := ParseParams(map[string]string{"ip": "::ffff:198.18.0.70", "cidr_netmask": "27"}); err != nil || p.IP != testIP || p.Prefix != 27 {
		t.Errorf("IPv4-mapped: %+v %v", p, err)
	}
}

// Every bad value is reported, and each message names its parameter and
// says what would be right.
func TestParseParamsErrors(t *testing.T) {
	cases := []struct {
		params map[string]string
		want   []string
	}{
		{map[string]string{}, []string{"ip is required"}},
		{map[string]string{"ip": "198.18.0.300"}, []string{`ip "198.18.0.300": not an IP address`}},
		{map[string]string{"ip": "fe80::1"}, []string{`ip "fe80::1": is link-local`}},
		{map[string]string{"ip": "fe80::1%eth0"}, []string{"has a zone"}},
		{map[string]string{"ip": "ff02::1"}, []string{"not a unicast host address"}},
		{map[string]string{"ip": "::1"}, []string{"not a unicast host address"}},
		{map[string]string{"ip": "2001:2::23", "cidr_netmask": "129"}, []string{`cidr_netmask "129": prefix length out of range: must be 1 to 128 for IPv6`}},
		{map[string]string{"ip": "2001:2::23", "cidr_netmask": "255.255.255.0"}, []string{"dotted netmasks are IPv4's"}},
		{map[string]string{"ip": "2001:2::", "cidr_netmask": "64"}, []string{"Subnet-Router anycast address of 2001:2::/64"}},
		{map[string]string{"ip": "2001:2::23", "label": "web"}, []string{`label "web": IPv6 addresses have no label`}},
		{map[string]string{"ip": "2001:2::zz", "cidr_netmask": "99"}, []string{`ip "2001:2::zz": not an IP address`}},
		{map[string]string{"ip": "127.0.0.5"}, []string{"not a unicast host address"}},
		{map[string]string{"ip": "224.0.0.1"}, []string{"not a unicast host address"}},
		{map[string]string{"ip": "198.18.0.70", "cidr_netmask": "33"}, []string{`cidr_netmask "33": prefix length out of range`}},
		{map[string]string{"ip": "198.18.0.70", "cidr_netmask": "0"}, []string{`cidr_netmask "0": prefix length out of range`}},
		{map[string]string{"ip": "198.18.0.70", "cidr_netmask": "255.0.255.0"}, []string{"not contiguous"}},
		{map[string]string{"ip": "198.18.0.70", "cidr_netmask": "wide"}, []string{`cidr_netmask "wide": must be a prefix length`}},
		{map[string]string{"ip": "198.18.0.64", "cidr_netmask": "27"}, []string{"network address of 198.18.0.64/27"}},
		{map[string]string{"ip": "198.18.0.95", "cidr_netmask": "27"}, []string{"broadcast address of 198.18.0.64/27"}},
		{map[string]string{"ip": "198.18.0.70", "nic": "eth0:1"}, []string{`nic "eth0:1"`, "set label instead"}},
		{map[string]string{"ip": "198.18.0.70", "nic": "averyveryverylongname"}, []string{`nic "averyveryverylongname": longer than 15`}},
		{map[string]string{"ip": "198.18.0.70", "arp_count": "-1"}, []string{`arp_count "-1": must be an integer from 0`}},
		{map[string]string{"ip": "198.18.0.70", "arp_interval": "fast"}, []string{`arp_interval "fast": not a duration`}},
		{map[string]string{"ip": "198.18.0.70", "arp_interval": "1h"}, []string{`arp_interval "1h": must be a duration from 1ms to 10s (a bare number is milliseconds)`}},
		{map[string]string{"ip": "198.18.0.70", "arp_refresh": "maybe"}, []string{`arp_refresh "maybe": not a boolean`}},
		{map[string]string{"ip": "198.18.0.70", "label": "a b"}, []string{`label "a b"`}},
		{map[string]string{"ip": "198.18.0.70", "nic": "enp0s31f6", "label": "frontend"}, []string{`"enp0s31f6:frontend" would be 18 characters`}},
		{map[string]string{"ip": "198.18.0.70", "cidr": "24"}, []string{`unknown parameter "cidr": did you mean cidr_netmask?`}},
		{map[string]string{"ip": "198.18.0.70", "arp-count": "2"}, []string{`unknown parameter "arp-count": did you mean arp_count?`}},
		{map[string]string{"ip": "nope", "cidr_netmask": "99"}, []string{`ip "nope"`, `cidr_netmask "99"`}},
	}
	for _, c := range cases {
		_, err := ParseParams(c.params)
		if err == nil {
			t.Errorf("%v: accepted", c.params)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", c.params, err, w)
			}
		}
	}
}

func TestParseNetmaskDotted(t *testing.T) {
	for s, want := range map[string]int{"255.255.255.255": 32, "255.255.255.0": 24, "128.0.0.0": 1, "255.255.254.0": 23} {
		if got, err := parseNetmask(s, false); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", s, got, err, want)
		}
	}
	if _, err := parseNetmask("0.0.0.0", false); err == nil {
		t.Error("0.0.0.0 accepted")
	}
}
