#!/usr/bin/env bash
# The documentation's browser check needs Chromium. Install Debian's when it is
# missing and we may (root, with apt-get: CI's fresh machines); otherwise say
# how. A CHROMIUM variable naming another binary is respected.
set -euo pipefail

if [[ -n "${CHROMIUM:-}" ]] || command -v chromium >/dev/null; then
    exit 0
fi
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "ensure_chromium: installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q chromium >/dev/null
    }
    command -v chromium >/dev/null
    exit 0
fi
echo "ensure_chromium: Chromium is needed for the docs' browser check:" \
    "sudo apt-get install chromium (or set CHROMIUM=/path/to/chromium)" >&2
exit 1
