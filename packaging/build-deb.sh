#!/usr/bin/env bash
# Builds linepilot_<version>_<arch>.deb with dpkg-deb (npm run package), from this checkout after
# `npm ci`: the built JavaScript, the production node_modules with their native addons as built
# here (better-sqlite3, onnxruntime-node's linux binary), the Node.js runtime they were built for,
# the models, a sample config, the systemd unit and the maintainer scripts.
#   bash packaging/build-deb.sh [OUT_DIR]     (default: packaging/out)
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-packaging/out}")"
version="$(node -p 'require("./package.json").version')"
arch="$(dpkg --print-architecture)"
case "$arch" in amd64) ortarch=x64 ;; arm64) ortarch=arm64 ;; *) echo "unsupported architecture $arch" >&2; exit 1 ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
lib="$root/usr/lib/linepilot"

npx tsc -p tsconfig.build.json
mkdir -p "$lib" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/linepilot" "$root/usr/share/doc/linepilot" "$root/DEBIAN"
cp -r dist console models package.json package-lock.json "$lib/"
rm -f "$lib/models/reproduce.sh"
# Production dependencies only, native addons as built by npm ci on this machine (same arch, same
# Node ABI as the runtime shipped beside them). npm prune works offline on the copy.
cp -r node_modules "$lib/"
(cd "$lib" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1)
# onnxruntime ships every platform's binaries: keep this one's. And no build leftovers.
ort="$lib/node_modules/onnxruntime-node/bin/napi-v6"
find "$ort" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
find "$ort/linux" -mindepth 1 -maxdepth 1 ! -name "$ortarch" -exec rm -rf {} +
# sd-notify's addon is optional (the notifier falls back to unix-dgram); musl builds never load here.
rm -rf "$lib/node_modules/sd-notify"
# papaparse ships a demo page that loads jQuery from a CDN: not part of the parser.
rm -rf "$lib/node_modules/papaparse/player"
find "$lib/node_modules" -name '*.musl.node' -delete
find "$lib/node_modules" \( -name '.eslintrc*' -o -name '.npmignore' -o -name '.git*' -o -name '.travis.yml' -o -name '.editorconfig' -o -name '.nycrc' -o -name '*.sh' \) -prune -exec rm -rf {} +
find "$lib/node_modules" \( -name '*.md' -o -name '*.ts' ! -name '*.d.ts' -o -name '*.map' -o -name '.github' -o -name 'test' -o -name 'tests' -o -name 'example' -o -name 'examples' -o -name 'deps' -o -name '*.gyp*' -o -name 'obj.target' -o -name '.deps' -o -name 'Makefile' -o -name '*.mk' \) -prune -exec rm -rf {} +
# Prebuilt addons of other platforms (serialport ships them all): only linux-<this arch> stays.
find "$lib/node_modules" -type d -name prebuilds -exec sh -c 'for d in "$1"/*; do case "$(basename "$d")" in "linux-$2") ;; *) rm -rf "$d" ;; esac; done' _ {} "$ortarch" \;
find "$lib" -name '*.node' -exec sh -c 'strip --strip-unneeded "$1" 2>/dev/null || true' _ {} \;
find "$lib" -type d -exec chmod 755 {} +
find "$lib" -type f -exec chmod 644 {} +
find "$lib" -type f \( -name '*.node' -o -name '*.so*' \) -exec chmod 644 {} +
# The Node.js runtime the addons were built against: the package depends on no system nodejs.
install -m 755 "$(command -v node)" "$lib/node"
strip --strip-unneeded "$lib/node" 2>/dev/null || true
# Run through /usr/bin/linepilot with the shipped runtime, not as a script of its own.
sed -i '1{/^#!/d}' "$lib/dist/cli/main.js"
install -D -m 644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/linepilot"
install -m 755 packaging/debian/linepilot.sh "$root/usr/bin/linepilot"
install -m 644 deploy/linepilot@.service "$root/lib/systemd/system/linepilot@.service"
install -m 644 packaging/debian/example.yaml "$root/etc/linepilot/example.yaml"
install -m 644 packaging/debian/copyright "$root/usr/share/doc/linepilot/copyright"
gzip -9n < packaging/debian/changelog > "$root/usr/share/doc/linepilot/changelog.gz"
chmod 644 "$root/usr/share/doc/linepilot/changelog.gz"
for s in postinst prerm postrm; do install -m 755 "packaging/debian/$s" "$root/DEBIAN/$s"; done
echo /etc/linepilot/example.yaml > "$root/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/debian/control > "$root/DEBIAN/control"
mkdir -p "$out"
deb="$out/linepilot_${version}_${arch}.deb"
# xz for releases; DEB_COMPRESSION=gzip for a quick build (the tests).
fakeroot dpkg-deb "-Z${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
