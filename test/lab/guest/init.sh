#!/bin/busybox sh
# PID 1 in the lab initramfs (busybox only). The Debian kernel builds virtio, 9p and overlayfs as
# modules, so this stage loads them, then builds the guest root: the host's root over 9p
# (read-only) under a tmpfs overlay, so the guest runs the host's node, iproute2 and the repo at
# the same paths while its writes stay in guest memory. It mounts the guest kernel's modules over
# /usr/lib/modules and the run directory (read-write) at /lab, then switch_roots into stage2.sh.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "[lab-init] $(cut -d' ' -f1 /proc/uptime)s $*" > /dev/console; }
die() { say "FATAL: $*"; poweroff -f; }
say "initramfs up, kernel $(uname -r)"

for module in $(cat /modules.order); do
  insmod "/modules/$module" || die "insmod $module failed"
done

NINEP="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /host /rw /newroot
mount -t 9p -o "$NINEP,ro,cache=loose" hostroot /host || die "9p mount of the host root failed"
mount -t tmpfs -o size=60% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || die "overlay mount failed"
mkdir -p /newroot/usr/lib/modules /newroot/lab
mount -t 9p -o "$NINEP,ro,cache=loose" guestmodules /newroot/usr/lib/modules || die "9p mount of the guest modules failed"
mount -t 9p -o "$NINEP,rw,cache=none" labrun /newroot/lab || die "9p mount of the run directory failed"
cp /stage2.sh /newroot/.lab-stage2 && chmod +x /newroot/.lab-stage2
# busybox in tmpfs: poweroff must still work if the 9p root is gone
mkdir -p /newroot/.lab-bin && cp /bin/busybox /newroot/.lab-bin/busybox
say "root assembled"
for fs in proc sys dev; do mount --move /$fs /newroot/$fs; done
exec switch_root /newroot /bin/bash /.lab-stage2
