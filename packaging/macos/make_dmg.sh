#!/bin/sh
# Build the macOS disk image: dist/carmask-studio[-cpu]-<version>.dmg holding
# "CarMask Studio.app" and a link to /Applications (drag to install). NOT RUN HERE (no Mac):
# written from hdiutil's manual page, to be tried on macOS.
#
#   python3 packaging/build.py            # writes dist/CarMask Studio.app (see ../README.md)
#   sh packaging/macos/make_dmg.sh        # or, after build.py --edition cpu: ... make_dmg.sh cpu
#
# The Mac app has no CUDA either way (its torch wheel has none); the CPU edition also leaves out
# PyTorch and carries the shipped models converted for OpenVINO (no fine-tuning). Not signed,
# not notarised: Gatekeeper refuses to open it until the user right-clicks it and chooses Open.
# Signing: codesign --deep --options runtime --sign "Developer ID Application: ..." on the
# .app, then xcrun notarytool submit the .dmg and xcrun stapler staple it. Uninstalling is
# dragging the app to the bin: the user's data in ~/Library/Application Support/CarMask Studio
# (models, session) and outputs stay.
set -eu

edition="${1:-full}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/engine/__init__.py")"
case "$edition" in
    full) dist="$root/dist"; name="carmask-studio" ;;
    cpu) dist="$root/dist/cpu"; name="carmask-studio-cpu" ;;
    *) echo "usage: $0 [full|cpu]" >&2; exit 2 ;;
esac
app="$dist/CarMask Studio.app"
[ -d "$app" ] || { echo "no $app: build it first with packaging/build.py --edition $edition" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
dmg="$root/dist/$name-$version.dmg"
rm -f "$dmg"
hdiutil create -volname "CarMask Studio $version" -srcfolder "$stage" -fs HFS+ \
    -format UDZO -imagekey zlib-level=9 -ov "$dmg"
echo "wrote $dmg"
