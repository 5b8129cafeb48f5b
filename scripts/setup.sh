#!/usr/bin/env bash
# Everything `make run` and `make test` need on a fresh Debian machine:
# system packages (installed when root, otherwise named), a venv, pinned deps.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-run}"   # run | test
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

# Debian packages: what the product needs to run, and what the tests need on top.
RUN_PKGS=(redis-server tesseract-ocr tesseract-ocr-swe tesseract-ocr-eng tesseract-ocr-osd
          fonts-noto-core)  # fonts: printable acknowledgement letters, Latin and Arabic script
TEST_PKGS=(dovecot-imapd dovecot-core postgresql fonts-dejavu-core chromium spamassassin
           clamav-testfiles clamav-daemon rabbitmq-server)  # clamd: the virus scan stage

pkgs=("${RUN_PKGS[@]}")
[ "$MODE" = test ] && pkgs+=("${TEST_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# The venv, rebuilt only when pyproject.toml changes.
stamp=".venv/.deps-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  # pip warns about every absent local mirror dir on some machines; keep real errors.
  quiet() { "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }
  quiet .venv/bin/python -m pip install -q --upgrade pip
  quiet .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.deps-*
  touch "$stamp"
fi
