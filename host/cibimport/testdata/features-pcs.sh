#!/bin/sh
# Builds a CIB with what the seed's CIB (seed-pcs.sh) lacks, offline with
# the real pcs commands, into $1 (Debian: apt-get install pcs): a group, an
# lsb primitive, a promotable clone of ocf:pacemaker:Stateful with notify
# (pcs gives it the agent's role monitors, notify and reload-agent ops), a
# clone with clone-max, node attributes, a location rule, a colocation with
# the Promoted role, a promote order, colocation and order sets, op
# defaults. TestFeaturesFromPCS imports it; pcs/features.xml is its output.
# The systemd unit and the init script are not installed on a build host,
# hence --force (pcs cannot read their metadata).
set -eu
out=$1
cibadmin --empty > "$out"
export CIB_file="$out"
cibadmin --create -o nodes -X '<node id="1" uname="holly"/>'
cibadmin --create -o nodes -X '<node id="2" uname="benji"/>'
cibadmin --create -o nodes -X '<node id="3" uname="ivy"/>'
crm_attribute --type crm_config --name cluster-name --update features
pcs -f "$out" property set stonith-enabled=false no-quorum-policy=stop
pcs -f "$out" node attribute holly rack=r1
pcs -f "$out" node attribute benji rack=r2
pcs -f "$out" resource defaults update resource-stickiness=50
pcs -f "$out" resource op defaults update timeout=40s
pcs -f "$out" resource create fs ocf:heartbeat:Filesystem device=/dev/vdb1 directory=/srv fstype=ext4 op monitor interval=20s timeout=40s --group app
pcs -f "$out" resource create ip ocf:heartbeat:IPaddr2 ip=198.18.0.140 cidr_netmask=27 --group app
pcs -f "$out" resource create web systemd:apache2 op monitor interval=30s --group app --force
pcs -f "$out" resource create legacy lsb:tandemtest meta migration-threshold=2 --force
pcs -f "$out" resource create db ocf:pacemaker:Stateful promotable promoted-max=1 notify=true
pcs -f "$out" resource create ping ocf:pacemaker:ping host_list=198.18.0.129 clone clone-max=2
pcs -f "$out" constraint location app rule score=100 rack eq r1
pcs -f "$out" constraint location legacy avoids ivy
pcs -f "$out" constraint colocation add app with Promoted db-clone INFINITY
pcs -f "$out" constraint order promote db-clone then start app
pcs -f "$out" constraint colocation set fs legacy setoptions score=-INFINITY
pcs -f "$out" constraint order set ping-clone set legacy
