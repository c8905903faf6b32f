#!/usr/bin/env bash
# Installs the Debian packages actorcore builds and tests with, when any is missing.
# Safe to run repeatedly: it does nothing when everything is present.
set -euo pipefail

PACKAGES=(
  cmake make gcc pkg-config
  libzmq3-dev libczmq-dev libmsgpack-dev libsqlite3-dev
  libcmocka-dev libyaml-dev libjansson-dev
  python3 python3-zmq python3-msgpack sqlite3 clang-format
  clang-14 libclang-rt-14-dev gnuplot-nox gcovr
  libmicrohttpd-dev libsystemd-dev python3-prometheus-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
