#!/usr/bin/env bash
# Gives this machine a Vulkan driver that Dawn (the `webgpu` npm package) accepts, so the WebGPU
# backend and its tests run without a GPU, on Mesa's software rasteriser (llvmpipe/lavapipe).
#
# Why backports: Dawn refuses the Mesa 22.3 of Debian 12 (bookworm); the Mesa 25 of
# bookworm-backports works. We add the backports suite on the SAME mirror the machine already
# uses (read from its own apt sources), so no new host is ever contacted, then install
# mesa-vulkan-drivers and libvulkan1 from it.
#
# Idempotent and quiet: when a backports Mesa Vulkan driver is already there it returns at once.
set -euo pipefail

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
codename=${codename:-bookworm}
suite="$codename-backports"
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-vulkan: needs root (or sudo)" >&2; exit 1; }
  as_root=(sudo)
fi

installed() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3=="installed"{print $4}'; }
# Fast path: both packages configured and the driver new enough, from backports (its version
# says "~bpo") or from a release that ships Mesa 24 or later itself.
mesa=$(installed mesa-vulkan-drivers || true)
major=${mesa#*:}
major=${major%%.*}
if [ -n "$mesa" ] && [ -n "$(installed libvulkan1 || true)" ] && { [[ "$mesa" == *bpo* ]] || [ "${major:-0}" -ge 24 ] 2>/dev/null; }; then
  echo "vulkan: mesa-vulkan-drivers $mesa (already installed)"
  exit 0
fi

# The machine's own Debian mirror: the first deb822 entry carrying the release suite itself,
# or failing that the first one-line `deb` entry for it. Its signing key is kept as it is.
uri='' key=''
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  read -r uri key < <(awk -v want="$codename" '
    BEGIN { RS = ""; FS = "\n" }
    {
      u = ""; k = ""; s = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/)      { split($i, a, " "); u = a[2] }
        if ($i ~ /^Signed-By:/) { split($i, a, " "); k = a[2] }
        if ($i ~ /^Suites:/)    { n = split($i, a, " "); for (j = 2; j <= n; j++) if (a[j] == want) s = 1 }
      }
      if (s && u != "") { print u, k; exit }
    }' "$f") || true
  [ -n "$uri" ] && break
done
if [ -z "$uri" ]; then
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v want="$codename" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i+1) == want) { print $i; exit } break } }')
fi
[ -n "$uri" ] || { echo "install-vulkan: no Debian '$codename' source found in /etc/apt; cannot add $suite" >&2; exit 1; }

list=/etc/apt/sources.list.d/rmad-backports.sources
if ! apt-cache policy 2>/dev/null | grep -q " $suite/"; then
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: $suite"
    echo "Components: main"
    [ -n "$key" ] && echo "Signed-By: $key"
  } | "${as_root[@]}" tee "$list" >/dev/null
  "${as_root[@]}" apt-get update -qq -o DPkg::Lock::Timeout=600
fi
# Output is shown only when apt fails (debconf chatter otherwise).
log=$(mktemp); trap 'rm -f "$log"' EXIT
if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o DPkg::Lock::Timeout=600 -t "$suite" mesa-vulkan-drivers libvulkan1 >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
echo "vulkan: mesa-vulkan-drivers $(installed mesa-vulkan-drivers) from $suite"
