#!/bin/sh
# Turns a fresh debootstrap into the lab's cached node root (run with chroot,
# once per recipe). Node-specific set-up is vagrant/provision/node.sh; this
# file only holds what is particular to containers sharing one root. Its text
# is part of the recipe hash: editing it rebuilds the root on the next up.
set -eu

# Packages are in; their downloads and lists only take space.
apt-get clean
rm -rf /var/lib/apt/lists/*

# Each node writes its own machine-id and hostname into its writable layer;
# dbus must read the same id as systemd.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -s /etc/machine-id /var/lib/dbus/machine-id
rm -f /etc/hostname

# A persistent journal lives in the node's writable layer, so the host can
# still read a hard-killed node's log (journalctl --directory).
mkdir -p /var/log/journal

# Lab nodes have no route to any mirror and must not spend CPU on apt timers.
systemctl mask apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
