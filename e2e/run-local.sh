#!/usr/bin/env bash
# Starts a three-member Tandem cluster (holly, benji, witness director) as
# processes on loopback, waits for quorum and prints `tandem status`. It
# leaves the cluster running and says how to stop it.
#
# PLUGIN_DIR=DIR adds the tandem-plugin-* executables of DIR (a plugin
# you are writing) to the first-party ones: the nodes' plugin dir is then
# $DIR/plugins, holding links to both. Rebuilding your plugin in place is
# an upgrade: the hosts relaunch it from the new file within seconds.
#
# DIR=DIR puts the cluster's files there (default /tmp/tandem-local; a
# cluster already running from DIR is stopped first). PORT_BASE=N gives
# the members the loopback ports N to N+5 (holly N and N+1, benji N+2 and
# N+3, director N+4 and N+5) instead of the default 14222/16222,
# 14224/16224 and 14230/16230, to run beside another cluster.
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
DIR=${DIR:-/tmp/tandem-local}
PLUGIN_DIR=${PLUGIN_DIR:-}
PORT_BASE=${PORT_BASE:-}
if [ -z "$PORT_BASE" ]; then
  PORTS=(14222 16222 14224 16224 14230 16230)
elif [[ "$PORT_BASE" =~ ^[0-9]+$ ]] && [ "$PORT_BASE" -ge 1024 ] && [ "$PORT_BASE" -le 65530 ]; then
  PORTS=()
  for i in 0 1 2 3 4 5; do PORTS+=($((PORT_BASE + i))); done
else
  echo "PORT_BASE=$PORT_BASE: want a port number from 1024 to 65530 (the members use it and the next five)" >&2
  exit 2
fi
if [ -f "$DIR/pids" ]; then
  kill $(cat "$DIR/pids") 2>/dev/null || true
fi
rm -rf "$DIR" && mkdir -p "$DIR"
PLUGINS_TOML=""
if [ -n "$PLUGIN_DIR" ]; then
  PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd)
  mkdir -m 0755 "$DIR/plugins"
  found=0
  for p in "$BIN"/tandem-plugin-* "$PLUGIN_DIR"/tandem-plugin-*; do
    [ -f "$p" ] && [ -x "$p" ] || continue
    ln -sfn "$p" "$DIR/plugins/$(basename "$p")"
    case $p in "$PLUGIN_DIR"/*) found=1 ;; esac
  done
  if [ "$found" = 0 ]; then
    echo "PLUGIN_DIR=$PLUGIN_DIR holds no executable tandem-plugin-NAME (build your plugin first)" >&2
    exit 2
  fi
  PLUGINS_TOML="[plugins]
dir = \"$DIR/plugins\""
fi
cat >"$DIR/cluster.toml" <<TOML
[cluster]
name = "local"
[bus]
data_dir = "$DIR/data"
[bus.tls]
dir = "$DIR/pki"
$PLUGINS_TOML
[[node]]
name = "holly"
address = "127.0.0.1"
client_port = ${PORTS[0]}
cluster_port = ${PORTS[1]}
[[node]]
name = "benji"
address = "127.0.0.1"
client_port = ${PORTS[2]}
cluster_port = ${PORTS[3]}
[witness]
name = "director"
address = "127.0.0.1"
client_port = ${PORTS[4]}
cluster_port = ${PORTS[5]}
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
if [ -n "$PLUGIN_DIR" ]; then
  echo
  "$BIN/tandem" plugin list --config "$DIR/cluster.toml"
fi
echo
echo "The cluster keeps running. Look around: $BIN/tandem status --config $DIR/cluster.toml (logs in $DIR/*.log)"
echo "Stop it: kill \$(cat $DIR/pids)"
