package bus

import (
	"bytes"
	"encoding/json"
)

// ReportHeader is what orders a node's reports (NodeResources): whose it
// is, from which start of its process, and its number within that one.
type ReportHeader struct {
	Node        string
	Incarnation string
	Seq         uint64
}

// ReportPeek is what PeekNodeResources reads of a report: its header and,
// when the report has one (Brief: not from an older build), its resources
// in brief (NodeResources.Active).
type ReportPeek struct {
	ReportHeader
	Brief  bool
	Active []ActiveResource
}

// PeekNodeResources reads the header of an encoded NodeResources event,
// and its resources in brief, without decoding its resources: a report is
// as long as the resources its node has probed, and the other members
// need only the few that are not stopped (host/lrm). It reads the
// envelope's kind and version first, as Encode writes them, then the
// event's node, incarnation and sequence number, then its Active, which
// Encode writes before the rest, and stops there: the rest of msg is not
// read, nor checked. ok is false when msg is not a NodeResources event
// this build reads, or when its fields come in another order (then decode
// it in full: Decode). Brief is false, with ok, for a report of an older
// build (no Active after its header).
func PeekNodeResources(msg []byte) (p ReportPeek, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if !delim(dec, '{') {
		return p, false
	}
	var kindOK, versionOK bool
	for dec.More() {
		key, isKey := stringToken(dec)
		if !isKey {
			return p, false
		}
		switch key {
		case "kind":
			var kind string
			if dec.Decode(&kind) != nil || kind != (NodeResources{}).Kind() {
				return p, false
			}
			kindOK = true
		case "v":
			var v int
			if dec.Decode(&v) != nil || v != (NodeResources{}).Schema() {
				return p, false
			}
			versionOK = true
		case "data":
			if !kindOK || !versionOK {
				return p, false
			}
			return peekHeader(dec)
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return p, false
			}
		}
	}
	return p, false
}

// peekHeader reads node, incarnation and seq at the start of the event's
// object, then active if it comes next; any other field before them is
// an order Encode does not write.
func peekHeader(dec *json.Decoder) (p ReportPeek, ok bool) {
	if !delim(dec, '{') {
		return p, false
	}
	h := &p.ReportHeader
	var node, inc, seq bool
	for !(node && inc && seq) {
		if !dec.More() {
			return ReportPeek{}, false
		}
		key, isKey := stringToken(dec)
		if !isKey {
			return ReportPeek{}, false
		}
		var err error
		switch key {
		case "node":
			err, node = dec.Decode(&h.Node), true
		case "incarnation":
			err, inc = dec.Decode(&h.Incarnation), true
		case "seq":
			err, seq = dec.Decode(&h.Seq), true
		default:
			return ReportPeek{}, false
		}
		if err != nil {
			return ReportPeek{}, false
		}
	}
	if !dec.More() {
		return p, true
	}
	if key, isKey := stringToken(dec); !isKey || key != "active" {
		return p, true // an older build's report: no brief
	}
	if err := dec.Decode(&p.Active); err != nil {
		return ReportPeek{}, false
	}
	p.Brief = true
	return p, true
}

func delim(dec *json.Decoder, d json.Delim) bool {
	t, err := dec.Token()
	return err == nil && t == d
}

func stringToken(dec *json.Decoder) (string, bool) {
	t, err := dec.Token()
	s, ok := t.(string)
	return s, err == nil && ok
}
