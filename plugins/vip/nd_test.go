package vip

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/bpf"
)

var testIP6 = netip.MustParseAddr("2001:2::23")

// The golden frames are written field by field from RFC 2464, RFC 8200 and
// RFC 4861 (4.3, 4.4, 4.6.1, 7.2.6) and RFC 4862 5.4.2, not produced by
// the code under test; the checksums were computed apart from it (RFC 1071
// over the pseudo-header).
func TestNDFramesGolden(t *testing.T) {
	na, err := unsolicitedNA(testMAC, testIP6)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := dadProbe(testMAC, testIP6)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"unsolicited neighbour advertisement", na, `
			333300000001 02005e102030 86dd
			60000000 0020 3a ff
			20010002000000000000000000000023
			ff020000000000000000000000000001
			88 00 9613
			20000000
			20010002000000000000000000000023
			02 01 02005e102030`},
		{"duplicate address probe", ns, `
			3333ff000023 02005e102030 86dd
			60000000 0018 3a ff
			00000000000000000000000000000000
			ff0200000000000000000001ff000023
			87 00 5a5f
			00000000
			20010002000000000000000000000023`},
	}
	for _, c := range cases {
		if want := unhex(t, c.want); !bytes.Equal(c.got, want) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, c.got, want)
		}
	}
}

func TestParseNDFrame(t *testing.T) {
	na, _ := unsolicitedNA(testMAC, testIP6)
	p, err := parseNDFrame(na)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := p.Msg.(*ndp.NeighborAdvertisement)
	if !ok || !m.Override || m.Solicited || m.Router || m.TargetAddress != testIP6 || p.Src != testIP6 || !bytes.Equal(p.SrcMAC, testMAC) {
		t.Fatalf("parsed %+v %+v", p, p.Msg)
	}
	bad := func(mod func([]byte)) []byte {
		b := bytes.Clone(na)
		mod(b)
		return b
	}
	for name, b := range map[string][]byte{
		"short":        na[:50],
		"not IPv6":     bad(func(b []byte) { b[12], b[13] = 0x08, 0x00 }),
		"not ICMPv6":   bad(func(b []byte) { b[ethHeaderLen+6] = 17 }),
		"hop limit 64": bad(func(b []byte) { b[ethHeaderLen+7] = 64 }),
		"bad checksum": bad(func(b []byte) { b[len(b)-1] ^= 0xff }),
		"truncated":    bad(func(b []byte) { b[ethHeaderLen+5] = 0xff }),
	} {
		if _, err := parseNDFrame(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestClaimsAddress6(t *testing.T) {
	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	na := func(from, tlla net.HardwareAddr, target netip.Addr) ndPacket {
		m := &ndp.NeighborAdvertisement{Override: true, TargetAddress: target}
		if tlla != nil {
			m.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: tlla}}
		}
		return ndPacket{SrcMAC: from, Src: target, Msg: m}
	}
	ns := func(from net.HardwareAddr, src netip.Addr) ndPacket {
		return ndPacket{SrcMAC: from, Src: src, Msg: &ndp.NeighborSolicitation{TargetAddress: netip.MustParseAddr("2001:2::1")}}
	}
	cases := []struct {
		name string
		p    ndPacket
		want net.HardwareAddr
	}{
		{"another host answers for the ip", na(other, other, testIP6), other},
		{"an answer without the option names its sender", na(other, nil, testIP6), other},
		{"our own advertisement", na(testMAC, testMAC, testIP6), nil},
		{"a proxy saying the ip is at our MAC", na(other, testMAC, testIP6), nil},
		{"an advertisement of another ip", na(other, other, netip.MustParseAddr("2001:2::24")), nil},
		{"another host resolving from the ip", ns(other, testIP6), other},
		{"another host probing (unspecified source)", ns(other, netip.IPv6Unspecified()), nil},
	}
	for _, c := range cases {
		got, ok := claimsAddress6(c.p, testIP6, testMAC)
		if ok != (c.want != nil) || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, ok, c.want)
		}
	}
}

// The packet filter of the probe's socket, run in x/net/bpf's virtual
// machine: it keeps neighbour solicitations and advertisements and drops
// the rest of a busy segment's traffic.
func TestNDFilter(t *testing.T) {
	raw := make([]bpf.RawInstruction, len(ndFilter))
	for i, f := range ndFilter {
		raw[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the filter has instructions x/net/bpf does not know")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	na, _ := unsolicitedNA(testMAC, testIP6)
	ns, _ := dadProbe(testMAC, testIP6)
	with := func(b []byte, off int, v byte) []byte {
		b = bytes.Clone(b)
		b[off] = v
		return b
	}
	for name, c := range map[string]struct {
		frame []byte
		keep  bool
	}{
		"neighbour advertisement": {na, true},
		"neighbour solicitation":  {ns, true},
		"ICMPv6 echo request":     {with(na, ethHeaderLen+ipv6HeaderLen, 128), false},
		"router advertisement":    {with(na, ethHeaderLen+ipv6HeaderLen, 134), false},
		"UDP over IPv6":           {with(na, ethHeaderLen+6, 17), false},
		"ARP":                     {gratuitousRequest(testMAC, testIP), false},
		"runt":                    {na[:20], false},
	} {
		n, err := vm.Run(c.frame)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if (n > 0) != c.keep {
			t.Errorf("%s: filter keeps %d bytes, want kept=%v", name, n, c.keep)
		}
	}
}
