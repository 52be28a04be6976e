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

// PeekNodeResources reads the header of an encoded NodeResources event
// without decoding its resources: a report is as long as the resources
// its node has probed, and a member that keeps only the latest report of
// each node (host/lrm) need not decode the ones a newer report replaces.
// It reads the envelope's kind and version first, as Encode writes them,
// then the event's node, incarnation and sequence number, which Encode
// writes before the resources, and stops there. ok is false when msg is
// not a NodeResources event this build reads, or when its fields come in
// another order (then decode it in full: Decode).
func PeekNodeResources(msg []byte) (h ReportHeader, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if !delim(dec, '{') {
		return h, false
	}
	var kindOK, versionOK bool
	for dec.More() {
		key, isKey := stringToken(dec)
		if !isKey {
			return h, false
		}
		switch key {
		case "kind":
			var kind string
			if dec.Decode(&kind) != nil || kind != (NodeResources{}).Kind() {
				return h, false
			}
			kindOK = true
		case "v":
			var v int
			if dec.Decode(&v) != nil || v != (NodeResources{}).Schema() {
				return h, false
			}
			versionOK = true
		case "data":
			if !kindOK || !versionOK {
				return h, false
			}
			return peekHeader(dec)
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return h, false
			}
		}
	}
	return h, false
}

// peekHeader reads node, incarnation and seq at the start of the event's
// object; any other field before them is an order Encode does not write.
func peekHeader(dec *json.Decoder) (h ReportHeader, ok bool) {
	if !delim(dec, '{') {
		return h, false
	}
	var node, inc, seq bool
	for !(node && inc && seq) {
		if !dec.More() {
			return h, false
		}
		key, isKey := stringToken(dec)
		if !isKey {
			return h, false
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
			return h, false
		}
		if err != nil {
			return ReportHeader{}, false
		}
	}
	return h, true
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
