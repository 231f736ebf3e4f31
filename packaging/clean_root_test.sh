#!/bin/sh
# The studio's install, tested in a clean Debian root: NOT RUN YET (it needs the real bundle's
# .deb and Debian's package mirror for debootstrap; a later session runs it, as root, on Linux).
#
#   sudo sh packaging/clean_root_test.sh dist/carmask-studio-cpu_0.2.0_amd64.deb \
#        [dist/previous/carmask-studio-cpu_0.1.0_amd64.deb] [ROOT_FOLDER]
#
# 1. debootstrap bookworm (minbase: no Python) into ROOT_FOLDER (default build/clean-root);
# 2. apt installs the .deb there (its Depends, the X11 libraries, come from the mirror) and
#    xvfb; with a previous .deb, that one first, then the new one over it (an upgrade);
# 3. then, OFFLINE (unshare --net: no network namespace, not even loopback to the outside), as a
#    studio user with a model and a session already in ~/.local/share/CarMask Studio:
#      carmask --version; carmask predict on the shipped samples; carmask-studio --self-test
#      under xvfb-run;
# 4. purge: /opt/carmask-studio is gone, the user's models and session are still there.
# Exit 0 when every step passed; each step prints what it checked. Debian's mirror is
# MIRROR (default http://deb.debian.org/debian; a local mirror works too).
set -eu

deb="$(realpath "$1")"
previous="${2:+$(realpath "$2")}"
rootfs="$(realpath -m "${3:-build/clean-root}")"
mirror="${MIRROR:-http://deb.debian.org/debian}"
package="$(dpkg-deb --field "$deb" Package)"
version="$(dpkg-deb --field "$deb" Version)"
home=/home/studio
data="$home/.local/share/CarMask Studio"

step() { printf '\n== %s\n' "$*"; }
# root's PATH (dpkg needs ldconfig and start-stop-daemon from the sbin folders)
in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" \
    LANG=C.UTF-8 "$@"; }
offline() { unshare --net chroot "$rootfs" /usr/bin/env -i PATH=/usr/bin:/bin HOME="$home" \
    LANG=C.UTF-8 CARMASK_OFFLINE=1 "$@"; }
cleanup() {
    for m in dev/pts dev proc sys; do umount "$rootfs/$m" 2>/dev/null || true; done
}
trap cleanup EXIT

step "debootstrap bookworm into $rootfs"
if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
fi
mount -t proc proc "$rootfs/proc"
mount -t sysfs sys "$rootfs/sys"
mount --bind /dev "$rootfs/dev"
mount --bind /dev/pts "$rootfs/dev/pts"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
if in_root sh -c 'command -v python3 || command -v python'; then
    echo "FAIL: the clean root has a Python"; exit 1
fi
in_root apt-get update -q
in_root apt-get install -y -q --no-install-recommends xvfb xauth

mkdir -p "$rootfs/tmp/debs"
if [ -n "$previous" ]; then
    step "install the previous version: $(dpkg-deb --field "$previous" Version)"
    cp "$previous" "$rootfs/tmp/debs/"
    in_root apt-get install -y -q "/tmp/debs/$(basename "$previous")"
fi

step "the studio user's own data"
mkdir -p "$rootfs$data/models"
printf 'weights the studio trained\n' > "$rootfs$data/models/my-finetuned.safetensors"
printf '{"photos": []}\n' > "$rootfs$data/session.json"
(cd "$rootfs$data" && find . -type f -exec sha256sum {} +) > "$rootfs/tmp/home-before"
# the user's files are all there, unchanged (the program may add its own next to them)
home_kept() { (cd "$rootfs$data" && sha256sum --check --quiet "$rootfs/tmp/home-before"); }

step "install $package $version"
cp "$deb" "$rootfs/tmp/debs/"
in_root apt-get install -y -q "/tmp/debs/$(basename "$deb")"
in_root dpkg -s "$package" | grep -q "^Version: $version$"
home_kept
echo "ok: $package $version installed; the user's data unchanged"

step "offline: carmask --version"
said="$(offline carmask --version)"  # (not tee /dev/stderr: that reopens a log and truncates it)
echo "$said"
echo "$said" | grep -q "$version"

step "offline: carmask predict on the shipped samples"
rm -rf "$rootfs/tmp/cutouts"
offline carmask predict --out /tmp/cutouts /opt/carmask-studio/_internal/resources/samples
n="$(find "$rootfs/tmp/cutouts" -name '*.png' | wc -l)"
[ "$n" -gt 0 ] || { echo "FAIL: no cut-out written"; exit 1; }
echo "ok: $n cut-outs"

step "offline: carmask-studio --self-test under Xvfb"
offline xvfb-run -a carmask-studio --self-test

step "purge $package"
in_root dpkg --purge "$package"
[ ! -e "$rootfs/opt/carmask-studio" ] || { echo "FAIL: /opt/carmask-studio is left"; exit 1; }
[ ! -e "$rootfs/usr/bin/carmask" ] || { echo "FAIL: /usr/bin/carmask is left"; exit 1; }
home_kept
echo "ok: the program is gone, the user's models and session stay"

step "all passed"
