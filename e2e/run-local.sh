#!/usr/bin/env bash
# Starts a three-member Tandem cluster (holly, benji, witness director) as
# processes on loopback, waits for quorum and prints `tandem status`. It
# leaves the cluster running and says how to stop it.
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
DIR=${DIR:-/tmp/tandem-local}
if [ -f "$DIR/pids" ]; then
  kill $(cat "$DIR/pids") 2>/dev/null || true
fi
rm -rf "$DIR" && mkdir -p "$DIR"
cat >"$DIR/cluster.toml" <<TOML
[cluster]
name = "local"
[bus]
data_dir = "$DIR/data"
[bus.tls]
dir = "$DIR/pki"
[[node]]
name = "holly"
address = "127.0.0.1"
client_port = 14222
cluster_port = 16222
[[node]]
name = "benji"
address = "127.0.0.1"
client_port = 14224
cluster_port = 16224
[witness]
name = "director"
address = "127.0.0.1"
client_port = 14230
cluster_port = 16230
TOML
"$BIN/tandem" pki init --config "$DIR/cluster.toml" >/dev/null
"$BIN/tandem" host --config "$DIR/cluster.toml" --node holly >"$DIR/holly.log" 2>&1 & echo $! >>"$DIR/pids"
"$BIN/tandem" host --config "$DIR/cluster.toml" --node benji >"$DIR/benji.log" 2>&1 & echo $! >>"$DIR/pids"
"$BIN/tandem" witness --config "$DIR/cluster.toml" >"$DIR/director.log" 2>&1 & echo $! >>"$DIR/pids"
for _ in $(seq 1 100); do
  if "$BIN/tandem" status --config "$DIR/cluster.toml" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
"$BIN/tandem" status --config "$DIR/cluster.toml"
echo
echo "The cluster keeps running. Look around: $BIN/tandem status --config $DIR/cluster.toml (logs in $DIR/*.log)"
echo "Stop it: kill \$(cat $DIR/pids)"
