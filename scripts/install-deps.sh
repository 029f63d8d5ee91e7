#!/bin/sh
# Installs every Debian 12 package that building, running and testing minidb
# needs. Idempotent: when everything is present it does nothing (no apt-get
# update), so `make run` and `make test` stay fast on a machine already set up.
set -eu

PKGS="build-essential cmake pkg-config clang libcmocka-dev libyaml-dev \
libxxhash-dev libssl-dev procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: missing packages:$missing; run as root or install sudo" >&2
		exit 1
	fi
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
