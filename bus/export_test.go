package bus

// ClientKey exposes the derived client nkey to the external tests.
var ClientKey = Secret.clientKey
