package daemon

// SetHeartbeatHook makes the member's main loop call f before each
// heartbeat (a test blocks in f to hang the loop).
func SetHeartbeatHook(o *Options, f func()) { o.heartbeatHook = f }

// PeerNames is peerNames.
var PeerNames = peerNames
