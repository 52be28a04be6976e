#!/bin/sh
# Builds the seed tutorial's CIB (shared/seed/active-active-tutorial.txt)
# offline with the real pcs commands, into $1 (Debian: apt-get install pcs,
# which brings pacemaker-cli-utils). pcs -f works on a file, no cluster.
# The nodes and the cluster-name come from corosync on a real cluster; here
# cibadmin and crm_attribute write them. The systemd units are not installed
# on a build host, hence --force (pcs cannot read their metadata).
set -eu
out=$1
cibadmin --empty > "$out"
export CIB_file="$out"
cibadmin --create -o nodes -X '<node id="1" uname="holly"/>'
cibadmin --create -o nodes -X '<node id="2" uname="benji"/>'
crm_attribute --type crm_config --name cluster-name --update mycluster
pcs -f "$out" property set stonith-enabled=false
pcs -f "$out" resource defaults update resource-stickiness=100 migration-threshold=3 failure-timeout=60s
pcs -f "$out" resource create VIP-10.10.10.23 ocf:heartbeat:IPaddr2 ip=10.10.10.23 cidr_netmask=24 op monitor interval=10s
pcs -f "$out" resource create httpd systemd:httpd configfile=/etc/httpd/conf/httpd.conf op monitor interval=30s clone --force
pcs -f "$out" resource create haproxy systemd:haproxy op monitor interval=15s clone --force
pcs -f "$out" constraint order VIP-10.10.10.23 then haproxy-clone
pcs -f "$out" constraint order httpd-clone then haproxy-clone
pcs -f "$out" constraint colocation add VIP-10.10.10.23 with haproxy-clone
