#!/usr/bin/env bash
# Installs the Debian packages named in LIST (a file: names separated by blanks, `#` comments)
# that the image lacks, inside an image build:
#   install-packages.sh /path/to/packages.txt
# A base that already holds them all (a debootstrap rootfs made with --include, as
# scripts/build-api-image.sh makes) needs no network; otherwise apt fetches the missing ones,
# with Debian's contrib component enabled (zfsutils-linux lives there).
set -euo pipefail

(($# == 1)) || { echo "usage: $0 LIST" >&2; exit 2; }

read -r -a wanted <<<"$(sed -e 's/#.*//' "$1" | tr -s '[:space:]' ' ')"
missing=()
for p in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-packages: all ${#wanted[@]} packages of $1 already installed"
    exit 0
fi

echo "install-packages: installing ${#missing[@]} package(s): ${missing[*]}"
# shellcheck disable=SC1091  # the base image's own file
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
echo "deb http://deb.debian.org/debian $codename contrib" >/etc/apt/sources.list.d/medforge-contrib.list
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
rm -rf /var/lib/apt/lists/*
