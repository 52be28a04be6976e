#!/bin/sh
# Builds a CIB with two alerts offline with the real pcs commands, into $1
# (Debian: apt-get install pcs). pcs -f works on a file, no cluster.
# TestAlertsFromPCS imports it: the first two alerts of testdata/alerts.xml,
# as pcs writes them.
set -eu
out=$1
cibadmin --empty > "$out"
export CIB_file="$out"
cibadmin --create -o nodes -X '<node id="1" uname="holly"/>'
pcs -f "$out" alert create id=file path=/usr/share/pacemaker/alerts/alert_file.sh description="every event to a file" \
    options debug_exec_order=false meta timeout=15s timestamp-format="%Y-%m-%d %H:%M:%S.%06N"
pcs -f "$out" alert recipient add file value=/var/log/cluster-alerts.log id=file-log
pcs -f "$out" alert recipient add file value=/var/log/other.log id=file-other meta timestamp-format=%c enabled=false
pcs -f "$out" alert create id=snmp path=/usr/share/pacemaker/alerts/alert_snmp.sh \
    options trap_node_states=all meta timestamp-format="%Y-%m-%d,%H:%M:%S.%01N"
pcs -f "$out" alert recipient add snmp value=198.18.0.99 id=snmp-destination
