#!/usr/bin/env bash
# Put Mermaid's browser build in docs/assets/vendor/ (ignored by git), so that
# the documentation site draws its diagrams without loading anything from
# outside. The version is pinned and the package checked against the
# integrity hash the npm registry publishes for it; bump both together
# (`npm view mermaid@VERSION dist.integrity`). Mermaid is MIT-licensed: its
# LICENSE file is copied beside the script, and so into the built site.
#
#   bash scripts/fetch_mermaid.sh     # does nothing when that version is there
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=11.17.2
INTEGRITY=sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg==
DEST=docs/assets/vendor
STAMP="$DEST/mermaid.version"

if [[ -f "$DEST/mermaid.min.js" && "$(cat "$STAMP" 2>/dev/null)" == "$VERSION" ]]; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "fetch_mermaid: installing npm (Debian's package)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q npm >/dev/null 2>&1 || {
            apt-get update -q >/dev/null
            apt-get install -y -q npm >/dev/null
        }
    else
        echo "fetch_mermaid: npm is needed to fetch mermaid@$VERSION; install Node.js and npm" >&2
        exit 1
    fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(cd "$work" && npm pack --silent "mermaid@$VERSION" 2>/dev/null | tail -n 1)
actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$work/$tarball")
if [[ "$actual" != "$INTEGRITY" ]]; then
    echo "fetch_mermaid: mermaid@$VERSION does not match its pinned integrity hash" >&2
    exit 1
fi
tar -xzf "$work/$tarball" -C "$work" package/dist/mermaid.min.js package/LICENSE
mkdir -p "$DEST"
mv "$work/package/dist/mermaid.min.js" "$DEST/mermaid.min.js"
mv "$work/package/LICENSE" "$DEST/mermaid.LICENSE"
echo "$VERSION" >"$STAMP"
echo "fetch_mermaid: mermaid@$VERSION -> $DEST/mermaid.min.js" >&2
