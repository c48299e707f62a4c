#!/usr/bin/env bash
# Put in place what the workshop view and its browser tests need, so both work offline:
#   1. Debian's chromium at /usr/bin/chromium (apt-get; as root, or through sudo),
#   2. Solara's front-end assets in the venv's Solara CDN cache, unpacked from `npm pack`
#      (Solara's server otherwise fetches them from a public CDN while the page loads).
# Idempotent, and quiet when everything is already there. `make test` and `make browser` run it.
# Usage: scripts/setup_browser.sh [VENV]   (default .venv)
set -euo pipefail

VENV=${1:-.venv}
PY="$VENV/bin/python"
MARK=.cbsim-npm-pack   # written last into each unpacked package (cbsim.workshop.server checks for it)
say() { echo "setup_browser: $*" >&2; }

if [ ! -x "$PY" ]; then
    say "no Python at $PY (create the venv first: make setup)"
    exit 1
fi

# The cache folder and the packages come from the installed Solara (cbsim.workshop.server reads its page
# template), so an upgrade of Solara that moves a pinned version is followed here.
listing=$("$PY" -m cbsim.workshop.server assets)
mapfile -t LINES <<<"$listing"
CACHE=${LINES[0]}
PACKAGES=("${LINES[@]:1}")
[ ${#PACKAGES[@]} -gt 0 ] || { say "found no Solara asset packages (Solara changed?)"; exit 1; }
missing=()
for pkg in "${PACKAGES[@]}"; do
    [ -f "$CACHE/$pkg/$MARK" ] || missing+=("$pkg")
done

# ---------------------------------------------------------------- 1. Debian packages
apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ] && ! command -v npm >/dev/null 2>&1; then
    apt_packages+=(npm)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        say "needs root to install ${apt_packages[*]}: apt-get install ${apt_packages[*]}"
        exit 1
    fi
    say "installing ${apt_packages[*]} (apt-get)"
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    if ! { "${SUDO[@]}" apt-get update -qq &&
           "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"; } \
           >"$log" 2>&1; then
        cat "$log" >&2
        say "apt-get failed"
        exit 1
    fi
    rm -f "$log"
    [ -x /usr/bin/chromium ] || { say "apt-get did not install /usr/bin/chromium"; exit 1; }
fi

# ---------------------------------------------------------------- 2. Solara's assets
if [ ${#missing[@]} -gt 0 ]; then
    say "putting ${#missing[@]} Solara asset package(s) in $CACHE (npm pack)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    for pkg in "${missing[@]}"; do
        dir="$work/$(echo "$pkg" | tr '/@' '__')"
        mkdir -p "$dir"
        tarball=$(cd "$dir" && npm pack --silent --pack-destination . "$pkg" | tail -n 1)
        tar -xzf "$dir/$tarball" -C "$dir"
        mkdir -p "$CACHE/$pkg"
        cp -a "$dir/package/." "$CACHE/$pkg/"
        touch "$CACHE/$pkg/$MARK"
        say "  $pkg"
    done
fi
