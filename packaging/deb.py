"""Package a built bundle as a Debian package: `carmask-studio[-cpu]_<version>_<arch>.deb`.

    python packaging/deb.py "dist/CarMask Studio" --edition full --out dist
    python packaging/build.py --edition cpu --deb     # builds the bundle, then this

What the package installs:
    /opt/carmask-studio/                     the bundle (both executables and _internal/)
    /usr/bin/carmask, /usr/bin/carmask-studio   symlinks to /opt/carmask-studio/...
    /usr/share/applications/carmask-studio.desktop   menu entry; opens photos and folders
    /usr/share/icons/hicolor/<s>x<s>/apps/carmask-studio.png   the icon, 16-512 px
    /usr/share/metainfo/com.carmask.studio.metainfo.xml   AppStream (software centres)
    /usr/share/doc/<package>/{copyright,changelog.gz}

The two editions install to the same place, so each Conflicts with, Replaces and Provides the
other. The only maintainer script is postrm: on remove and purge it deletes what is left of
/opt/carmask-studio (files the program wrote there), unless the other edition now owns it.
Nothing under any home folder is touched: the user's session, model library
(~/.local/share/CarMask Studio) and outputs stay. The menu and icon caches are refreshed by
the triggers of desktop-file-utils and hicolor-icon-theme.

Only the standard library and `dpkg-deb` are used (`--root-owner-group`, so no fakeroot).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APP_NAME = "CarMask Studio"
PREFIX = "opt/carmask-studio"
EXECUTABLES = ("carmask", "carmask-studio")
EDITIONS = {"full": "carmask-studio", "cpu": "carmask-studio-cpu"}
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)  # the hicolor theme's sizes up to 512
DESKTOP = HERE / "carmask-studio.desktop"
METAINFO = HERE / "com.carmask.studio.metainfo.xml"
MAINTAINER = "CarMask Studio <studio@carmask.invalid>"
# the bundle carries Qt, but Qt's X11 plugin loads these from the system (app/platform_check.py)
BASE_DEPENDS = ("libc6 (>= 2.36)", "libgl1", "libegl1", "libfontconfig1", "libx11-6")

POSTRM = """#!/bin/sh
# CarMask Studio: after remove/purge, delete what is left of the program folder (files the
# program wrote there). Never anything under a home folder: the user's session, models and
# outputs stay. Not on upgrade, and not when the other edition has just replaced this one (its
# executables are there then: dpkg leaves files another package took over).
set -e
program="${DPKG_ROOT:-}/opt/carmask-studio"
case "$1" in
    remove|purge)
        if [ ! -e "$program/carmask" ] && [ ! -e "$program/carmask-studio" ]; then
            rm -rf "$program"
        fi
        ;;
esac
exit 0
"""


def engine_version() -> str:
    """engine.__version__, read from the file (importing engine would load far more)."""
    text = (ROOT / "engine" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if found is None:
        raise RuntimeError('engine/__init__.py no longer sets __version__ = "..."')
    return found.group(1)


def xcb_packages() -> list[str]:
    """The Debian packages of the X11 libraries Qt's xcb plugin loads, as app/platform_check.py
    names them (read from the file: packaging never imports the app)."""
    tree = ast.parse((ROOT / "app" / "platform_check.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "XCB_PACKAGES":
            return list(ast.literal_eval(node.value).values())
    raise RuntimeError("app/platform_check.py no longer defines XCB_PACKAGES")


def host_arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def deb_filename(edition: str, version: str, arch: str) -> str:
    return f"{EDITIONS[edition]}_{version}_{arch}.deb"


def control_text(edition: str, version: str, arch: str, installed_kib: int) -> str:
    package = EDITIONS[edition]
    other = next(name for name in EDITIONS.values() if name != package)
    what = (
        "CPU edition: runs on any PC, no NVIDIA libraries."
        if edition == "cpu"
        else "Full edition: uses an NVIDIA GPU when there is one, and fine-tunes models."
    )
    depends = ", ".join([*BASE_DEPENDS, *xcb_packages()])
    return (
        f"Package: {package}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {depends}\n"
        f"Conflicts: {other}\n"
        f"Replaces: {other}\n"
        f"Provides: {other}\n"
        "Section: graphics\n"
        "Priority: optional\n"
        "Description: remove the background from studio car photos\n"
        " CarMask Studio segments car photos, lets the operator touch up each mask and\n"
        " exports cut-outs and listing frames; `carmask` is its command line.\n"
        f" {what}\n"
    )


def _du_kib(folder: Path) -> int:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_dir())
    return max(1, -(-total // 1024))


def check_bundle(bundle: Path) -> None:
    if not bundle.is_dir():
        raise SystemExit(f"no bundle folder at {bundle}: build it with packaging/build.py")
    for name in EXECUTABLES:
        exe = bundle / name
        if not exe.is_file() or not os.access(exe, os.X_OK):
            raise SystemExit(f"{bundle} lacks the executable {name!r}: is it a built bundle?")


def stage(bundle: Path, tree: Path, edition: str, version: str, arch: str) -> None:
    """Lay out the package's files under `tree` (the future file system root + DEBIAN/)."""
    # hard links where the bundle and the package share a file system: no 4 GiB copy
    shutil.copytree(bundle, tree / PREFIX, symlinks=True, copy_function=_link_or_copy)
    (tree / "usr" / "bin").mkdir(parents=True)
    for name in EXECUTABLES:
        # absolute: it crosses top-level folders (Debian policy 10.5)
        (tree / "usr" / "bin" / name).symlink_to(f"/{PREFIX}/{name}")
    share = tree / "usr" / "share"
    _install(DESKTOP, share / "applications" / "carmask-studio.desktop")
    _install(METAINFO, share / "metainfo" / METAINFO.name)
    write_docs(share / "doc" / EDITIONS[edition], EDITIONS[edition], version)
    for size in ICON_SIZES:
        icon = ROOT / "resources" / "icons" / f"carmask-studio-{size}.png"
        apps = share / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        _install(icon, apps / "carmask-studio.png")
    debian = tree / "DEBIAN"
    debian.mkdir()
    installed = _du_kib(tree)
    (debian / "control").write_text(control_text(edition, version, arch, installed))
    (debian / "control").chmod(0o644)
    (debian / "postrm").write_text(POSTRM)
    (debian / "postrm").chmod(0o755)
    for folder in [tree, *(p for p in tree.rglob("*") if p.is_dir() and not p.is_symlink())]:
        folder.chmod(0o755)  # whatever the umask: dpkg-deb wants DEBIAN/ 0755, users read all


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_docs(folder: Path, package: str, version: str) -> None:
    """The copyright file and changelog every Debian package carries (gzip without a time
    stamp: the same version gives the same bytes)."""
    folder.mkdir(parents=True)
    (folder / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {APP_NAME}\n\n"
        "Files: *\n"
        "Copyright: 2026 CarMask\n"
        "License: proprietary\n"
        " All rights reserved. The bundled third-party libraries (Python, Qt, PyTorch,\n"
        " OpenCV, OpenVINO, ...) keep their own licences, shipped beside them in\n"
        " /opt/carmask-studio/_internal.\n"
    )
    entry = (
        f"{package} ({version}) stable; urgency=medium\n\n"
        f"  * CarMask Studio {version}.\n\n"
        f" -- {MAINTAINER}  Thu, 01 Jan 1970 00:00:00 +0000\n"
    )
    with (
        open(folder / "changelog.gz", "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as gz,
    ):
        gz.write(entry.encode())
    for path in folder.iterdir():
        path.chmod(0o644)


def _install(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o644)


def build_deb(
    bundle: Path,
    edition: str,
    out_dir: Path,
    version: str | None = None,
    arch: str | None = None,
) -> Path:
    """Write the .deb of `bundle` into `out_dir` and return its path."""
    if edition not in EDITIONS:
        raise SystemExit(f"unknown edition {edition!r}: one of {', '.join(EDITIONS)}")
    bundle = Path(bundle)
    check_bundle(bundle)
    version = version or engine_version()
    arch = arch or host_arch()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / deb_filename(edition, version, arch)
    with tempfile.TemporaryDirectory(prefix="carmask-deb-", dir=out_dir) as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir(mode=0o755)
        stage(bundle, tree, edition, version, arch)
        partial = Path(tmp) / target.name  # written aside, then moved: never a half .deb
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(partial)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help=f'the built bundle folder ("dist/{APP_NAME}")')
    parser.add_argument("--edition", choices=sorted(EDITIONS), default="full")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the .deb goes")
    parser.add_argument("--version", help="default: engine.__version__")
    parser.add_argument("--arch", help="default: dpkg --print-architecture")
    args = parser.parse_args(argv)
    deb = build_deb(args.bundle, args.edition, args.out, args.version, args.arch)
    print(f"wrote {deb} ({deb.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
