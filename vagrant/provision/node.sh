#!/bin/sh
# Sets up one Tandem lab host: the single source of node set-up for both labs.
#   - Vagrant runs it inside each booted VM (vagrant/Vagrantfile);
#   - the nspawn lab (e2e/lab) runs it with chroot in each node's root before
#     booting it (--offline: the cached root already has every package).
# It is idempotent: running it again converges to the same state.
#
# usage: node.sh --name NAME --role node|witness --address ADDR
#                --config FILE --pki DIR [--key FILE [--key-path PATH]] [--member NAME=ADDR]...
#                [--bin-src DIR | --deb FILE] [--start-tandem] [--offline]
#
#   --name        the member's name in the cluster file (holly, benji, director)
#   --role        node: Apache serves "Hello <Name>" on ADDR:80 and tandem runs
#                 as `tandem host`; witness: `tandem witness`. Apache and
#                 HAProxy are installed everywhere but never enabled at boot:
#                 the cluster starts them (systemctl start apache2).
#   --address     the member's own address; Apache listens only there, so that
#                 HAProxy can bind the VIP on port 80
#   --config      cluster file to install as /etc/tandem/cluster.toml
#   --pki         directory with ca.crt, NAME.crt, NAME.key (this member's
#                 certificate, from `tandem pki init`) and admin.crt, admin.key
#                 (for tandem commands on this host), and ca.crl when
#                 `tandem pki revoke` made one: installed in
#                 /etc/tandem/pki (0700; keys 0600)
#   --key         cluster secret (tandem keygen), only for a single-member
#                 development cluster without TLS: installed at --key-path (0600)
#   --key-path    where the cluster file's [bus] credentials expects it
#                 (default /etc/tandem/cluster.key)
#   --member      a cluster member for /etc/hosts (repeat for each)
#   --bin-src     copy tandem and tandem-plugin-* from DIR to /opt/tandem/bin
#                 (Vagrant without a package; the nspawn lab bind-mounts
#                 /opt/tandem/bin instead) and write tandem.service for them
#   --deb FILE    install the tandem Debian package FILE (make deb) instead:
#                 /usr/bin/tandem, its plugins, and its units tandem.service
#                 (a node; its host name is its node name) and
#                 tandem-witness.service (the witness); the cluster file
#                 below replaces the package's example
#   --start-tandem  enable the member's unit (and start it on a booted host);
#                 without it the unit is installed but disabled
#   --offline     never run apt-get: fail if a package is missing
set -eu

here=$(cd "$(dirname "$0")" && pwd)
name= role= address= config= pki= key= key_path=/etc/tandem/cluster.key bin_src= deb= start_tandem=no offline=no members=

die() { echo "node.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--name) name=${2:?--name needs a value}; shift 2 ;;
	--role) role=${2:?--role needs a value}; shift 2 ;;
	--address) address=${2:?--address needs a value}; shift 2 ;;
	--config) config=${2:?--config needs a value}; shift 2 ;;
	--pki) pki=${2:?--pki needs a value}; shift 2 ;;
	--key) key=${2:?--key needs a value}; shift 2 ;;
	--key-path) key_path=${2:?--key-path needs a value}; shift 2 ;;
	--member) members="$members ${2:?--member needs NAME=ADDR}"; shift 2 ;;
	--bin-src) bin_src=${2:?--bin-src needs a value}; shift 2 ;;
	--deb) deb=${2:?--deb needs a value}; shift 2 ;;
	--start-tandem) start_tandem=yes; shift ;;
	--offline) offline=yes; shift ;;
	*) die "unknown argument '$1' (see the usage at the top of $0)" ;;
	esac
done

[ -n "$name" ] || die "--name is required"
[ -n "$address" ] || die "--address is required"
case "$role" in node | witness) ;; *) die "--role must be node or witness, not '$role'" ;; esac
[ -f "$config" ] || die "--config: no such file '$config'"
[ -z "$key" ] || [ -f "$key" ] || die "--key: no such file '$key'"
[ -z "$deb" ] || [ -f "$deb" ] || die "--deb: no such file '$deb' (build it with: make deb)"
[ -z "$deb" ] || [ -z "$bin_src" ] || die "--deb and --bin-src exclude each other"
[ -n "$pki" ] || [ -n "$key" ] || die "--pki is required (the member's certificates, from tandem pki init)"
if [ -n "$pki" ]; then
	for f in ca.crt "$name.crt" "$name.key" admin.crt admin.key; do
		[ -f "$pki/$f" ] || die "--pki: no $f in '$pki' (make them with: tandem pki init --config cluster.toml --dir $pki)"
	done
fi

# A booted host gets its changes applied live; in a chroot (the nspawn lab
# before boot) systemctl only edits the unit links.
booted=no
[ -d /run/systemd/system ] && booted=yes

# --- packages -------------------------------------------------------------
missing=
for pkg in $(grep -v '^[[:space:]]*#' "$here/packages"); do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	[ "$offline" = no ] || die "packages missing from the node root:$missing (the lab's cached root is incomplete: remove it and run lab up again)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	apt-get install -y -q --no-install-recommends $missing
fi

# --- identity ---------------------------------------------------------------
echo "$name" >/etc/hostname
hosts=$(sed '/^# BEGIN tandem lab/,/^# END tandem lab/d' /etc/hosts 2>/dev/null || true)
{
	[ -n "$hosts" ] && printf '%s\n' "$hosts"
	echo "# BEGIN tandem lab (vagrant/provision/node.sh)"
	for m in $members; do echo "${m#*=} ${m%%=*}"; done
	echo "# END tandem lab"
} >/etc/hosts.tandem
mv /etc/hosts.tandem /etc/hosts
grep -q '^127\.0\.0\.1[[:space:]]' /etc/hosts || sed -i '1i 127.0.0.1 localhost' /etc/hosts

# --- Apache -----------------------------------------------------------------
title="$(printf '%s' "$name" | cut -c1 | tr '[:lower:]' '[:upper:]')$(printf '%s' "$name" | cut -c2-)"
cat >/etc/apache2/ports.conf <<EOF
# Written by Tandem's provisioning (vagrant/provision/node.sh). Apache listens
# only on this host's own address, so that HAProxy can bind the VIP on port 80,
# and on the loopback: ocf:heartbeat:apache's monitor asks mod_status's
# /server-status over lo (curl --interface lo; Debian allows local clients).
Listen $address:80
Listen 127.0.0.1:80
EOF
echo "ServerName $name" >/etc/apache2/conf-available/tandem-servername.conf
ln -sf ../conf-available/tandem-servername.conf /etc/apache2/conf-enabled/tandem-servername.conf
echo "Hello $title" >/var/www/html/index.html

# --- Apache and HAProxy: installed, not enabled (the cluster's clones start
# them, like Pacemaker's systemd:httpd and systemd:haproxy) ---------------------
systemctl disable apache2.service apache-htcacheclean.service haproxy.service >/dev/null 2>&1 || true
if [ "$booted" = yes ]; then
	systemctl stop haproxy.service apache-htcacheclean.service || true
	# A running Apache (a re-provisioned VM) takes the new Listen address.
	! systemctl is-active -q apache2.service || systemctl restart apache2.service
fi

# --- HAProxy binds the VIP on every node, also where the VIP is not (yet) ------
# (the nspawn lab sets this per network namespace from the host, /proc/sys
# being read-only in a container; systemd-sysctl skips it there)
echo "net.ipv4.ip_nonlocal_bind = 1" >/etc/sysctl.d/60-tandem.conf
if [ "$booted" = yes ] && [ -w /proc/sys/net/ipv4/ip_nonlocal_bind ]; then
	sysctl -q -p /etc/sysctl.d/60-tandem.conf
fi

# --- Tandem -------------------------------------------------------------------
if [ -n "$deb" ]; then
	# Before the cluster file goes in: on a first install dpkg then has no
	# file of ours to ask about; on a re-provision --force-confold keeps it.
	dpkg --force-confold -i "$deb"
	# A unit an earlier provisioning wrote for /opt/tandem/bin would hide
	# the package's.
	rm -f /etc/systemd/system/tandem.service
fi
install -d -m 0755 /etc/tandem /opt/tandem /opt/tandem/bin
install -d -m 0700 /var/lib/tandem
install -m 0644 "$config" /etc/tandem/cluster.toml
# `tandem` on every admin's PATH (the binaries live in /opt/tandem/bin; the
# package's is /usr/bin/tandem).
if [ -z "$deb" ]; then
	ln -sf /opt/tandem/bin/tandem /usr/local/sbin/tandem
else
	rm -f /usr/local/sbin/tandem
fi
if [ -n "$key" ]; then
	install -d -m 0755 "$(dirname "$key_path")"
	install -m 0600 "$key" "$key_path"
fi
if [ -n "$pki" ]; then
	install -d -m 0700 /etc/tandem/pki
	install -m 0644 "$pki/ca.crt" "$pki/$name.crt" "$pki/admin.crt" /etc/tandem/pki/
	install -m 0600 "$pki/$name.key" "$pki/admin.key" /etc/tandem/pki/
	# The revocation list, when `tandem pki revoke` made one.
	if [ -f "$pki/ca.crl" ]; then install -m 0644 "$pki/ca.crl" /etc/tandem/pki/; fi
fi
if [ -n "$bin_src" ]; then
	[ -x "$bin_src/tandem" ] || die "--bin-src: no tandem binary in $bin_src (build it first: make build)"
	install -m 0755 "$bin_src/tandem" /opt/tandem/bin/
	for f in "$bin_src"/tandem-plugin-*; do
		# The first-party plugins are links to tandem (one binary in
		# memory): keep them links; a plugin of its own is copied.
		if [ -L "$f" ] && [ "$(readlink "$f")" = tandem ]; then
			ln -sfn tandem "/opt/tandem/bin/$(basename "$f")"
		elif [ -f "$f" ]; then
			install -m 0755 "$f" /opt/tandem/bin/
		fi
	done
fi

unit=tandem.service
if [ -n "$deb" ]; then
	[ "$role" = node ] || unit=tandem-witness.service
else
	if [ "$role" = node ]; then
		description="Tandem cluster host $name"
		exec_start="/opt/tandem/bin/tandem host --config /etc/tandem/cluster.toml --node $name"
	else
		description="Tandem witness $name"
		exec_start="/opt/tandem/bin/tandem witness --config /etc/tandem/cluster.toml"
	fi
	cat >/etc/systemd/system/tandem.service <<EOF
# Written by Tandem's provisioning (vagrant/provision/node.sh).
[Unit]
Description=$description
After=network-online.target
Wants=network-online.target

# KillMode=process: a stop sends SIGTERM to tandem alone, which stops this
# node's resources through its plugins (singletons first, so they move), then
# the plugins. If tandem dies instead, its plugins notice their parent is gone
# and release what they hold (the VIP agent removes the address) before they
# exit; mixed or control-group would SIGKILL them first and leave the address
# with nobody to enforce its lease. The resources themselves are units of
# their own (apache2, haproxy) or addresses, not in this cgroup.
[Service]
ExecStart=$exec_start
KillMode=process
TimeoutStopSec=120s
Environment=PATH=/opt/tandem/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Restart=on-failure
RestartSec=2s

[Install]
WantedBy=multi-user.target
EOF
fi

if [ "$start_tandem" = yes ]; then
	systemctl enable "$unit" >/dev/null 2>&1
	[ "$booted" = no ] || { systemctl daemon-reload && systemctl restart "$unit"; }
else
	systemctl disable "$unit" >/dev/null 2>&1
	[ "$booted" = no ] || systemctl daemon-reload
fi
echo "node.sh: $name ($role, $address) provisioned"
