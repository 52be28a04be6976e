package vip

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
)

var (
	testMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	testIP  = netip.MustParseAddr("198.18.0.70")
)

// unhex reads a frame written as spaced hex, one field per group.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const padding = "000000000000000000000000000000000000" // 18 bytes: 42 -> 60

// The golden frames are written field by field from RFC 826 and RFC 5944
// 4.6, not produced by the code under test.
func TestFramesGolden(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"gratuitous request", gratuitousRequest(testMAC, testIP), `
			ffffffffffff 02005e102030 0806
			0001 0800 06 04 0001
			02005e102030 c6120046
			000000000000 c6120046` + padding},
		{"gratuitous reply", gratuitousReply(testMAC, testIP), `
			ffffffffffff 02005e102030 0806
			0001 0800 06 04 0002
			02005e102030 c6120046
			02005e102030 c6120046` + padding},
		{"probe", probe(testMAC, testIP), `
			ffffffffffff 02005e102030 0806
			0001 0800 06 04 0001
			02005e102030 00000000
			000000000000 c6120046` + padding},
	}
	for _, c := range cases {
		want := unhex(t, c.want)
		if !bytes.Equal(c.got, want) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, c.got, want)
		}
		if len(c.got) != minFrameLen {
			t.Errorf("%s: %d bytes, want %d", c.name, len(c.got), minFrameLen)
		}
	}
}

func TestParseFrameRoundTrip(t *testing.T) {
	p, err := parseFrame(gratuitousReply(testMAC, testIP))
	if err != nil {
		t.Fatal(err)
	}
	if p.Op != arpOpReply || !bytes.Equal(p.SenderMAC, testMAC) || p.SenderIP != testIP || !bytes.Equal(p.TargetMAC, testMAC) || p.TargetIP != testIP {
		t.Errorf("parsed %+v", p)
	}
	// Without the padding (as a NIC that strips it would deliver).
	if _, err := parseFrame(probe(testMAC, testIP)[:ethHeaderLen+arpLen]); err != nil {
		t.Errorf("unpadded frame: %v", err)
	}
}

func TestParseFrameRejects(t *testing.T) {
	good := gratuitousRequest(testMAC, testIP)
	ipv4 := bytes.Clone(good)
	ipv4[12], ipv4[13] = 0x08, 0x00
	ipv6ptype := bytes.Clone(good)
	ipv6ptype[ethHeaderLen+2], ipv6ptype[ethHeaderLen+3] = 0x86, 0xdd
	for name, b := range map[string][]byte{
		"short":        good[:30],
		"not ARP":      ipv4,
		"not IPv4 ARP": ipv6ptype,
	} {
		if _, err := parseFrame(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestClaimsAddress(t *testing.T) {
	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	reply := arpPacket{Op: arpOpReply, SenderMAC: other, SenderIP: testIP, TargetMAC: testMAC, TargetIP: netip.IPv4Unspecified()}
	if !claimsAddress(reply, testIP, testMAC) {
		t.Error("a reply for our ip from another MAC is a claim")
	}
	mine := reply
	mine.SenderMAC = testMAC
	if claimsAddress(mine, testIP, testMAC) {
		t.Error("our own frame is not a claim")
	}
	someoneProbing := arpPacket{Op: arpOpRequest, SenderMAC: other, SenderIP: netip.IPv4Unspecified(), TargetIP: testIP}
	if claimsAddress(someoneProbing, testIP, testMAC) {
		t.Error("another host probing for the ip does not claim it")
	}
	otherIP := reply
	otherIP.SenderIP = netip.MustParseAddr("198.18.0.71")
	if claimsAddress(otherIP, testIP, testMAC) {
		t.Error("a reply for another ip is not a claim")
	}
}
