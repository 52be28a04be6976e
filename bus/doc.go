// Package bus owns the embedded NATS cluster every member runs: the server
// (routes between voters, JetStream, credentials, TLS), the KV buckets for
// leases and the live configuration, and the typed events published on core
// NATS subjects, with a small publish/subscribe API for the rest of Tandem.
package bus
