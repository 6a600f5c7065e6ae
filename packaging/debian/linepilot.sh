#!/bin/sh
# linepilot: runs the CLI on the Node.js runtime shipped with it (the native addons are built for it).
# Relative to this script, so a package unpacked into another root (a test, a chroot) runs as is.
here="$(dirname "$(readlink -f "$0")")"
exec "$here/../lib/linepilot/node" "$here/../lib/linepilot/dist/cli/main.js" "$@"
