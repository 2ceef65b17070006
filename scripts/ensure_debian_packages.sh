#!/usr/bin/env bash
# Install the Debian packages the real-parts tests run (tests/realparts.py) when missing:
# as root with apt-get (CI runs as root), otherwise fail with one line naming them.
set -euo pipefail
packages=(docker-registry nginx skopeo openssh-server apache2-utils)
binaries=(/usr/bin/docker-registry /usr/sbin/nginx /usr/bin/skopeo /usr/sbin/sshd /usr/bin/htpasswd)
missing=()
for i in "${!packages[@]}"; do
  [[ -x "${binaries[$i]}" ]] || missing+=("${packages[$i]}")
done
(( ${#missing[@]} == 0 )) && exit 0
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get > /dev/null; then
  echo "error: missing Debian packages: ${missing[*]} (as root: apt-get install -y --no-install-recommends ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null; then
  apt-get update -qq > /dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
# The packages' services are not needed: the tests start their own instances.
