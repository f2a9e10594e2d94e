#!/usr/bin/env bash
# Build the project's busybox test image from the host's static busybox
# (Debian package busybox-static). No network access: everything comes from
# /bin/busybox and from the text below.
#
#   bash scripts/lib/busybox-image.sh OUTPUT_DIR
#
# OUTPUT_DIR receives four files, all describing the same container:
#   busybox.tar.gz            unified image: metadata.yaml + templates/ + rootfs/
#   busybox-meta.tar.gz       split image, metadata part: metadata.yaml + templates/
#   busybox-rootfs.squashfs   split image, rootfs part (squashfs)
#   busybox-rootfs.tar.gz     split image, rootfs part (tarball of the rootfs contents)
#
# The output is byte-for-byte reproducible for a given busybox binary and a
# given version of this file (fixed timestamps, owners, file order, no gzip
# name/time header), so LXD and Incus, on any machine, compute the same image
# fingerprints. When OUTPUT_DIR already holds a build made from the same
# inputs, nothing is rebuilt. Files are replaced atomically (rename), so a
# test that is reading an old file keeps reading a complete one.
#
# Messages go to stderr; nothing is printed on stdout.

set -Eeuo pipefail

say() { printf 'busybox-image: %s\n' "$*" >&2; }
fail() { printf 'busybox-image: ERROR: %s\n' "$*" >&2; exit 1; }

if [ $# -ne 1 ] || [ -z "$1" ]; then fail "usage: busybox-image.sh OUTPUT_DIR"; fi
out_dir=$1
busybox_bin=/bin/busybox
[ -x "$busybox_bin" ] || fail "$busybox_bin not found (install the Debian package busybox-static)"
for tool in tar gzip mksquashfs sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is required to build the image"
done

# Everything that decides the bytes of the result: the busybox binary and this recipe.
epoch=1700000000
recipe_id="$(sha256sum "$busybox_bin" | cut -c1-64) $(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)"
outputs=(busybox.tar.gz busybox-meta.tar.gz busybox-rootfs.squashfs busybox-rootfs.tar.gz)

mkdir -p "$out_dir"
up_to_date=yes
[ "$(cat "$out_dir/.recipe" 2>/dev/null || true)" = "$recipe_id" ] || up_to_date=no
for f in "${outputs[@]}"; do [ -s "$out_dir/$f" ] || up_to_date=no; done
if [ "$up_to_date" = yes ]; then
  say "image files in $out_dir are up to date"
  exit 0
fi

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/busybox-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

# ---- root filesystem -------------------------------------------------------
mkdir -p "$root" "$work/templates"
for d in bin sbin usr/bin usr/sbin etc/init.d dev proc sys run root home mnt tmp var/log var/tmp; do
  mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
install -m 0755 "$busybox_bin" "$root/bin/busybox"
# one symlink per applet, at the path busybox itself reports (bin/sh, sbin/init, ...)
while IFS= read -r applet; do
  case "$applet" in
    ""|bin/busybox) continue ;;
  esac
  case "$applet" in
    */*) [ -d "$root/${applet%/*}" ] || mkdir -p "$root/${applet%/*}" ;;
  esac
  ln -sfn /bin/busybox "$root/$applet"
done < <("$busybox_bin" --list-full)
[ -L "$root/sbin/init" ] || fail "busybox has no init applet; cannot build a bootable image"

# busybox init: run rcS once, then keep a shell attached to the console
cat >"$root/etc/inittab" <<'INITTAB'
# /etc/inittab of the effect-lxd test image (busybox init)
::sysinit:/etc/init.d/rcS
::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
INITTAB

# Boot script. The line echoed here lands in the console log, so the log is
# never empty (LXD 5.0.2 answers 500 when the console buffer is empty).
cat >"$root/etc/init.d/rcS" <<'RCS'
#!/bin/sh
# Boot-time set-up of the effect-lxd test image.
if [ -s /etc/hostname ]; then
  /bin/hostname -F /etc/hostname
fi
echo "effect-lxd test image: $(/bin/hostname) booted"
exit 0
RCS
chmod 0755 "$root/etc/init.d/rcS"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'busybox\n' >"$root/etc/hostname"
printf 'PS1='"'"'\\h:\\w\\$ '"'"'\nexport PS1\n' >"$root/etc/profile"
printf 'NAME="effect-lxd busybox test image"\nID=busybox\n' >"$root/etc/os-release"

# ---- image metadata ----------------------------------------------------------
busybox_version=$("$busybox_bin" 2>&1 | sed -n '1s/^BusyBox v\([0-9][0-9.]*\).*/\1/p' || true)
[ -n "$busybox_version" ] || busybox_version=unknown
arch=$(uname -m)
cat >"$work/metadata.yaml" <<META
architecture: $arch
creation_date: $epoch
properties:
  architecture: $arch
  description: effect-lxd busybox test image ($busybox_version)
  os: busybox
  release: "$busybox_version"
templates:
  /etc/hostname:
    when:
    - create
    - copy
    create_only: false
    template: hostname.tpl
META
printf '{{ container.name }}\n' >"$work/templates/hostname.tpl"

# ---- archives ------------------------------------------------------------------
# Deterministic tar: sorted names, one fixed mtime, numeric root ownership.
det_tar() {
  tar --sort=name --format=gnu --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    --no-acls --no-xattrs --no-selinux "$@"
}
det_tar -C "$work" -cf - metadata.yaml templates rootfs | gzip -9 -n >"$work/busybox.tar.gz"
det_tar -C "$work" -cf - metadata.yaml templates | gzip -9 -n >"$work/busybox-meta.tar.gz"
det_tar -C "$root" -cf - . | gzip -9 -n >"$work/busybox-rootfs.tar.gz"
# (mksquashfs refuses SOURCE_DATE_EPOCH together with explicit times)
env -u SOURCE_DATE_EPOCH mksquashfs "$root" "$work/busybox-rootfs.squashfs" \
  -noappend -comp gzip -all-root -no-xattrs -processors 1 \
  -mkfs-time "$epoch" -all-time "$epoch" -no-progress -quiet >/dev/null \
  || fail "mksquashfs failed"

for f in "${outputs[@]}"; do
  mv -f "$work/$f" "$out_dir/$f.partial"
  mv -f "$out_dir/$f.partial" "$out_dir/$f"
done
printf '%s\n' "$recipe_id" >"$out_dir/.recipe"
say "built ${outputs[*]} in $out_dir (busybox $busybox_version, $arch)"
