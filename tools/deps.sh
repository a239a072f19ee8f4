#!/bin/sh
# deps.sh PACKAGE... - installs the Debian packages that are missing (as root), or prints the exact
# apt-get line and fails when not root.
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "kiln: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends $missing || { apt-get update && apt-get install -y --no-install-recommends $missing; }
  exit $?
fi
echo "kiln: missing Debian packages. Run as root:"
echo "  apt-get install -y$missing"
exit 1
