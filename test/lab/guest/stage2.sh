#!/bin/bash
# PID 1 after switch_root (host userland over 9p + tmpfs overlay, guest kernel modules).
# Finishes the mounts a test needs, loads drivers for the emulated devices (there is no udev),
# runs /lab/guest-command.sh with its stdout on the second serial port (the host streams it
# verbatim as the TAP result) and its stderr in /lab/guest-stderr.log, records the exit code
# in /lab/rc and powers off. The kernel console stays on the first serial port.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
say() { echo "[lab-stage2] $(cut -d' ' -f1 /proc/uptime)s $*" > /dev/console; }
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/netns /dev/pts /dev/shm /sys/kernel/debug /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ln -sf /proc/self/fd /dev/fd
hostname nicplex-lab
# No udev: load drivers for the devices present at boot by their modalias. Devices that appear
# later (SR-IOV VFs) get no autoload; the suites modprobe their drivers explicitly.
cat /sys/bus/pci/devices/*/modalias /sys/bus/virtio/devices/*/modalias 2>/dev/null | sort -u | xargs modprobe -a -q -b 2>/dev/null
ip link set lo up
say "userland ready"

stty -F /dev/ttyS1 raw -echo 2>/dev/null
timeout -k 10 "${labtimeout:-900}" bash /lab/guest-command.sh > /dev/ttyS1 2> /lab/guest-stderr.log
rc=$?
echo "$rc" > /lab/rc
say "guest command exit code $rc; powering off"
sync
/.lab-bin/busybox poweroff -f
echo o > /proc/sysrq-trigger
sleep 30
