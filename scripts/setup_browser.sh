#!/usr/bin/env bash
# Put in place what the workshop view and its browser tests need, so both work offline:
#   1. Debian's chromium at /usr/bin/chromium (apt-get; needs root, or sudo),
#   2. Solara's front-end assets in the venv's Solara CDN cache, unpacked from `npm pack`
#      (Solara otherwise fetches them from a public CDN while the page loads).
# Idempotent and quiet when everything is already there.
# Usage: scripts/setup_browser.sh [VENV]   (default .venv)
set -euo pipefail

VENV=${1:-.venv}
PY="$VENV/bin/python"
say() { echo "setup_browser: $*" >&2; }

if [ ! -x "$PY" ]; then
    say "no Python at $PY (create the venv first: make setup)"
    exit 1
fi

# ---------------------------------------------------------------- 1. chromium
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        say "/usr/bin/chromium is missing; install it as root: apt-get install chromium"
        exit 1
    fi
    say "installing Debian's chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq >/dev/null
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core \
        >/dev/null
    [ -x /usr/bin/chromium ] || { say "apt-get did not install /usr/bin/chromium"; exit 1; }
fi

# ---------------------------------------------------------------- 2. Solara's assets
# The cache folder and the packages are read from the installed Solara itself, so an upgrade
# of Solara (which changes the pinned versions in its page template) is followed here.
CACHE=$("$PY" - <<'PYEOF'
from solara.server import settings
print(settings.assets.proxy_cache_dir)
PYEOF
)
mapfile -t PACKAGES < <("$PY" - <<'PYEOF'
import re
from pathlib import Path

import solara

root = Path(solara.__file__).parent
# The files whose CDN urls a SolaraViz page can request: the page template (Vuetify app,
# requirejs), font-awesome, Markdown (katex, mermaid) and the grid and Vega-Lite widgets.
files = [root / "server/templates/solara.html.j2", root / "server/settings.py",
         root / "components/markdown.py", *sorted((root / "widgets/vue").glob("*.vue"))]
spec = re.compile(r"/((?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*@\d[\w.+-]*)/")
found = set()
for f in files:
    found.update(spec.findall(f.read_text(encoding="utf-8")))
print("\n".join(sorted(found)))
PYEOF
)
[ ${#PACKAGES[@]} -gt 0 ] || { say "found no Solara asset packages (Solara changed?)"; exit 1; }

MARK=.cbsim-npm-pack   # written last: a folder without it is incomplete
missing=()
for pkg in "${PACKAGES[@]}"; do
    [ -f "$CACHE/$pkg/$MARK" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Solara's assets"; exit 1; }
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
