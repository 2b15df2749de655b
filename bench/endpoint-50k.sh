#!/usr/bin/env bash
# 50k (or more) concurrent clients in ONE endpoint process, where the host caps open files per process below
# that (here: hard limit 20,000, and root lacks CAP_SYS_RESOURCE to raise it). It boots a qemu guest on the same
# machine (same cores, its own kernel, so the limit can be raised), with nothing but a RAM root file system:
# busybox, this machine's node and redis-server, the shipped endpoint bundle (npm run build) and
# bench/endpoint-50k/inside.ts, which runs redis, the endpoint and the generators and prints the figures.
#
#   npm run bench:endpoint-50k                 # C=50000
#   C=60000 RATE=300 PUB_SECONDS=10 npm run bench:endpoint-50k
#   KIND=sio npm run bench:endpoint-50k       # the peer, Socket.IO + @socket.io/redis-adapter, same scenario
#
# Installs qemu-system-x86 and busybox-static with apt-get when missing, and fetches Debian's
# cloud kernel package once into $FG_VM_CACHE (default ~/.cache/filmgrain-vm).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KIND="${KIND:-ours}" # ours | sio (the same in-guest run against Socket.IO + redis-adapter)
C="${C:-50000}"
GEN_PER="${GEN_PER:-12500}"
RATE="${RATE:-20}" # tweets/s: each goes to C/100 clients (10k msg/s at C=50k)
PUB_SECONDS="${PUB_SECONDS:-10}"
VM_MEM="${VM_MEM:-6G}" # the recorded 50k runs used 6G
VM_CPUS="${VM_CPUS:-$(nproc)}"
# tcg (software emulation, multi-threaded) by default: this machine's /dev/kvm is nested and the guest kernel
# hangs or stops on "KVM internal error" at boot. VM_ACCEL=kvm where KVM works. Memory per connection does not
# depend on it; speed does, so this benchmark reports liveness and memory, not latency.
VM_ACCEL="${VM_ACCEL:-tcg}"
CACHE="${FG_VM_CACHE:-$HOME/.cache/filmgrain-vm}"

die() { echo "bench:endpoint-50k: $1" >&2; [ -n "${2:-}" ] && echo "  next: $2" >&2; exit 1; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
  else
    die "missing ${need[*]}" "sudo apt-get install -y ${need[*]}"
  fi
fi

mkdir -p "$CACHE"
KERNEL="$(ls "$CACHE"/vmlinuz-* 2>/dev/null | head -1 || true)"
if [ -z "$KERNEL" ]; then
  pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')"
  [ -n "$pkg" ] || { apt-get update -q >/dev/null; pkg="$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')"; }
  [ -n "$pkg" ] || die "cannot find Debian's cloud kernel package" "apt-get update, then retry"
  (cd "$CACHE" && apt-get download "$pkg" >/dev/null 2>&1) || die "cannot download $pkg" "check apt sources"
  tmp="$(mktemp -d)"; dpkg-deb -x "$CACHE/$pkg"_*.deb "$tmp"; cp "$tmp"/boot/vmlinuz-* "$CACHE/"; rm -rf "$tmp" "$CACHE/$pkg"_*.deb
  KERNEL="$(ls "$CACHE"/vmlinuz-* | head -1)"
fi

WORK="$(mktemp -d /tmp/fg-vm.XXXXXX)"
[ -n "${FG_VM_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
RFS="$WORK/rootfs"
mkdir -p "$RFS"/{bin,sbin,proc,sys,dev,tmp,app,etc,lib64,usr/bin,lib/x86_64-linux-gnu}

# the app: the endpoint as shipped, and the in-guest orchestrator
(cd "$ROOT" && node scripts/build.mjs --outdir "$RFS/app" >/dev/null)
(cd "$ROOT" && node -e "
  require('esbuild').build({ entryPoints: { inside: 'bench/endpoint-50k/inside.ts', 'sio-server': 'bench/endpoint/sio-server.ts' },
    outdir: '$RFS/app', outExtension: { '.js': '.mjs' }, bundle: true,
    platform: 'node', target: 'node20', format: 'esm', logLevel: 'warning',
    banner: { js: \"import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);\" } })
    .catch((e) => { console.error(e); process.exit(1); })")

# binaries and their libraries
cp /bin/busybox "$RFS/bin/busybox"
for cmd in node redis-server; do
  b="$(readlink -f "$(command -v "$cmd")")" # redis-server is a link to redis-check-rdb: keep the command's name
  cp "$b" "$RFS/usr/bin/$cmd"
  for lib in $(ldd "$b" | awk '/=>/{print $3} /ld-linux/{print $1}'); do
    mkdir -p "$RFS$(dirname "$lib")"; cp -L "$lib" "$RFS$lib"
  done
done
echo "root:x:0:0:root:/:/bin/sh" > "$RFS/etc/passwd"
echo "127.0.0.1 localhost" > "$RFS/etc/hosts"

cat > "$RFS/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
ip link set lo up
echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range
echo 65535 > /proc/sys/net/core/somaxconn
echo 1048576 > /proc/sys/fs/nr_open
ulimit -n 1000000
export PATH=/usr/bin:/bin HOME=/tmp KIND=$KIND C=$C GEN_PER=$GEN_PER RATE=$RATE PUB_SECONDS=$PUB_SECONDS APP_DIR=/app
cd /app && node inside.mjs
poweroff -f
EOF
chmod +x "$RFS/init"
(cd "$RFS" && find . | /bin/busybox cpio -o -H newc > "$WORK/initramfs.cpio" 2>/dev/null)

echo "booting a $VM_ACCEL guest ($VM_CPUS vCPUs, $VM_MEM, $(basename "$KERNEL")) for C=$C clients in one $KIND server process…" >&2
LOG="$WORK/console.log"
if [ "$VM_ACCEL" = kvm ]; then accel=(-enable-kvm -cpu host); else accel=(-accel tcg,thread=multi -cpu max); fi
timeout "${VM_TIMEOUT:-1800}" qemu-system-x86_64 "${accel[@]}" -smp "$VM_CPUS" -m "$VM_MEM" \
  -kernel "$KERNEL" -initrd "$WORK/initramfs.cpio" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init" \
  -nographic -no-reboot -nic none > "$LOG" 2>&1 || true
RESULT="$(sed -n '/=== RESULT ===/{n;p}' "$LOG" | tr -d '\r')"
[ -n "$RESULT" ] || { tail -40 "$LOG" >&2; die "the guest printed no result (console above)" "rerun; VM_MEM=16G if it ran out of memory"; }
echo "$RESULT"
