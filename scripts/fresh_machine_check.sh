#!/usr/bin/env bash
# Runs the README's two set-up commands, exactly as README.md writes them, as root inside a
# pristine Debian 12 (debootstrap --variant=minbase bookworm) chroot holding a clean clone of
# this project and a copy of ../shared. Prints each command's time; exits non-zero if either
# fails. Exit 77 means the check could not run here (no debootstrap, no mirror, no chroot
# rights): a warning, not a failure of the project.
#
#   scripts/fresh_machine_check.sh
#   FRESH_CACHE=DIR      where the base-system tarball is kept between runs
#                        (default ${XDG_CACHE_HOME:-~/.cache}/encore/fresh-machine)
#   FRESH_MIRROR=URL     Debian mirror (default: read from this machine's apt sources)
#   FRESH_KEEP=1         keep the chroot afterwards (its path is printed)
set -euo pipefail
# -P: a ../shared that is a symbolic link is copied as the directory it points to.
project=$(cd "$(dirname "$0")/.." && pwd -P)
shared=$(cd "$project/../shared" 2>/dev/null && pwd -P || true)
skip() {
  echo "fresh_machine_check: WARNING: skipped: $*" >&2
  exit 77
}
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null || skip "needs root (or password-less sudo) for debootstrap and chroot"
  SUDO=(sudo -n)
fi
[ -n "$shared" ] || skip "../shared not found beside the project"

# The mirror: the first Debian archive URI (not the security one) in this machine's apt sources.
mirror_from_apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' "$f"
  done
}
mirror=${FRESH_MIRROR:-$(mirror_from_apt_sources | grep -v -- '-security' | head -n 1 || true)}
[ -n "$mirror" ] || skip "no Debian mirror in this machine's apt sources (set FRESH_MIRROR)"

if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
  echo "fresh_machine_check: installing debootstrap"
  { "${SUDO[@]}" apt-get update -qq &&
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; } ||
    skip "could not install debootstrap (no reachable package mirror)"
fi
export PATH=$PATH:/usr/sbin:/sbin

# The README's first two ```sh blocks are its two set-up commands.
readarray -t commands < <(awk '
  /^```sh[[:space:]]*$/ { inside = 1; cmd = ""; next }
  /^```/ && inside { inside = 0; print cmd; if (++n == 2) exit; next }
  inside { cmd = (cmd == "" ? $0 : cmd "\n" $0) }' "$project/README.md")
[ "${#commands[@]}" -eq 2 ] || { echo "fresh_machine_check: README.md must open with two \`\`\`sh set-up blocks" >&2; exit 1; }

# The base system, cached as a tarball: a pristine root is unpacked from it for every run.
cache=${FRESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/encore/fresh-machine}
tarball=$cache/bookworm-minbase-$(dpkg --print-architecture).tar.gz
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/encore-fresh.XXXXXX")
root=$work/root
mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do "${SUDO[@]}" umount -l "${mounted[i]}" 2>/dev/null || true; done
  if [ "${FRESH_KEEP:-0}" = 1 ]; then
    echo "fresh_machine_check: kept $root"
    return
  fi
  # Never delete through a mount that is still there.
  if grep -q " $work/" /proc/mounts; then
    echo "fresh_machine_check: mounts left under $work; not deleting it" >&2
  else
    "${SUDO[@]}" rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT

if [ ! -s "$tarball" ]; then
  echo "fresh_machine_check: debootstrap --variant=minbase bookworm from $mirror"
  start=$SECONDS
  "${SUDO[@]}" debootstrap --variant=minbase bookworm "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 5 "$work/debootstrap.log" >&2
    skip "debootstrap could not download the base system from $mirror"
  }
  "${SUDO[@]}" tar -C "$work/base" -czf "$tarball.tmp" .
  "${SUDO[@]}" mv "$tarball.tmp" "$tarball"
  "${SUDO[@]}" rm -rf --one-file-system "$work/base"
  echo "fresh_machine_check: base system cached in $tarball ($((SECONDS - start)) s)"
fi
mkdir -p "$root"
"${SUDO[@]}" tar -C "$root" -xzf "$tarball"

# A clean clone of the committed project (not this work tree), and ../shared beside it.
"${SUDO[@]}" mkdir -p "$root/work"
"${SUDO[@]}" git clone -q --no-hardlinks "$project" "$root/work/main"
"${SUDO[@]}" cp -a "$shared" "$root/work/shared"
"${SUDO[@]}" cp /etc/resolv.conf "$root/etc/resolv.conf"
for fs in proc sys dev; do
  case $fs in
  proc) "${SUDO[@]}" mount -t proc proc "$root/proc" ;;
  sys) "${SUDO[@]}" mount -t sysfs sysfs "$root/sys" ;;
  dev) "${SUDO[@]}" mount --bind /dev "$root/dev" ;;
  esac || skip "cannot mount /$fs in the chroot"
  mounted+=("$root/$fs")
done

status=0
for i in 0 1; do
  cmd=${commands[i]}
  echo "fresh_machine_check: command $((i + 1)): $cmd"
  start=$SECONDS
  set +e
  "${SUDO[@]}" chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 /bin/bash -c "cd /work/main && $cmd" 2>&1 | tee "$work/command$((i + 1)).log" |
    { if [ "$i" = 0 ]; then cat; else grep -E '^(install_deps|[0-9]+% tests|Total Test|The following tests FAILED|\s+[0-9]+ - )' || true; fi; }
  rc=${PIPESTATUS[0]}
  set -e
  elapsed=$((SECONDS - start))
  if [ "$rc" -ne 0 ]; then
    echo "fresh_machine_check: command $((i + 1)) FAILED (exit $rc) after ${elapsed} s; last lines:" >&2
    tail -n 30 "$work/command$((i + 1)).log" >&2
    status=1
    break
  fi
  if [ "$i" = 0 ] && ! tail -n 1 "$work/command1.log" | grep -q '"label"'; then
    echo "fresh_machine_check: command 1 printed no classification" >&2
    status=1
    break
  fi
  echo "fresh_machine_check: command $((i + 1)) passed in ${elapsed} s"
done
exit $status
