package vip

import (
	"bytes"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// BenchmarkStartToGratuitousARP measures how long after Start is called
// the peer's packet socket sees the first gratuitous ARP for the VIP
// (in-process agent, veth pair between two namespaces). Reported: the
// median and the worst of b.N starts.
func BenchmarkStartToGratuitousARP(b *testing.B) {
	l := newLab(b)
	a := l.agent(b)
	ip := netip.MustParseAddr(vipIP)
	w := watchARP(b, l.hB, nicB, ip)
	r := req("vip", vipParams("arp_count", "1"))
	isGARP := func(p arpPacket) bool {
		return p.Op == arpOpRequest && p.SenderIP == ip && p.TargetIP == ip && bytes.Equal(p.SenderMAC, l.macA)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		want(b, "stop", a.Stop(ctx, r), sdk.OK)
		for len(w.frames) > 0 {
			<-w.frames
		}
		b.StartTimer()
		start := time.Now()
		want(b, "start", a.Start(ctx, r), sdk.OK)
		f, err := w.next(5*time.Second, isGARP)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, f.at.Sub(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-median-to-wire")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "µs-max-to-wire")
	want(b, "stop", a.Stop(ctx, r), sdk.OK)
}
