#!/usr/bin/env bash
# Set up digitize on Debian or Ubuntu: system packages, a virtual environment in .venv, the package.
#   bash scripts/bootstrap.sh          # to run digitize
#   bash scripts/bootstrap.sh --dev    # also what the test suite needs
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages="python3 python3-venv python3-pip tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-osd poppler-utils"
extra="fast"
if [ "${1:-}" = "--dev" ]; then
    packages="$packages fonts-noto-cjk fonts-dejavu-core chromium chromium-driver"
    extra="dev"
fi

missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "Installing system packages:$missing" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$extra]"
echo "Ready: $(.venv/bin/digitize --version)" >&2
