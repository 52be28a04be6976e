package bus

import "crypto/tls"

// ClientKey exposes the derived client nkey to the external tests.
var ClientKey = Secret.clientKey

// TLSConfigs exposes the server's client and route TLS configurations of
// member self to the external tests (the TLS cost benchmark).
func (t *Topology) TLSConfigs(mat *Material, self string) (client, route *tls.Config) {
	return t.tlsConfigs(mat, self, newSeenCerts())
}
