"""The Debian package a studio installs (packaging/deb.py): real .deb files built by dpkg-deb and
installed, upgraded, switched and purged by the real dpkg in a private root folder.

The only stand-in is the bundle: a small folder laid out like `dist/CarMask Studio/` whose two
executables are tiny shell scripts printing their name and version (building the real 4 GiB
bundle takes PyInstaller and a long time; packaging/clean_root_test.sh installs the real one).
Everything about the package is real: its control file, files, symlinks, maintainer script and
what dpkg does with them.

The private root: `dpkg --root=ROOT` with an empty database (`var/lib/dpkg/{status,available,
info,updates}`). It has no libc or X11 packages, so `--force-depends`; it has no /bin/sh, so
maintainer scripts run outside it (`--force-script-chrootless`, dpkg passes DPKG_ROOT, which
the postrm honours). `--force-not-root` lets it run unprivileged too; as root (as here) it
changes nothing.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOME_DATA = "home/studio/.local/share/CarMask Studio"

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg-deb") is None or shutil.which("dpkg") is None,
    reason="needs dpkg and dpkg-deb (Debian/Ubuntu)",
)


@pytest.fixture(scope="module")
def deb(load_script):
    return load_script("packaging/deb.py")


def fake_bundle(folder: Path, version: str) -> Path:
    """A folder laid out like the PyInstaller bundle; the executables are shell scripts."""
    bundle = folder / "CarMask Studio"
    (bundle / "_internal" / "resources" / "models").mkdir(parents=True)
    (bundle / "_internal" / "resources" / "models" / "manifest.json").write_text("{}\n")
    for name in ("carmask", "carmask-studio"):
        exe = bundle / name
        exe.write_text(f'#!/bin/sh\necho "{name} {version}"\n')
        exe.chmod(0o755)
    return bundle


@pytest.fixture(scope="module")
def packages(deb, tmp_path_factory):
    """(edition, version) -> .deb path: the full edition at 0.1.0 and 0.2.0, the CPU at 0.1.0."""
    base = tmp_path_factory.mktemp("debs")
    built = {}
    for edition, version in (("full", "0.1.0"), ("full", "0.2.0"), ("cpu", "0.1.0")):
        bundle = fake_bundle(base / f"{edition}-{version}", version)
        built[edition, version] = deb.build_deb(bundle, edition, base / "out", version=version)
    return built


def dpkg(root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        "dpkg",
        f"--root={root}",
        "--force-not-root",
        "--force-bad-path",
        "--force-script-chrootless",
        "--force-depends",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def studio_root(tmp_path):
    """An empty dpkg root with a studio user's models and session in its home folder."""
    root = tmp_path / "root"
    admin = root / "var" / "lib" / "dpkg"
    for sub in ("info", "updates"):
        (admin / sub).mkdir(parents=True)
    for name in ("status", "available"):
        (admin / name).touch()
    models = root / HOME_DATA / "models"
    models.mkdir(parents=True)
    (models / "my-finetuned.safetensors").write_bytes(b"weights the studio trained")
    (root / HOME_DATA / "session.json").write_text('{"photos": ["car1.jpg"]}')
    return root


def home_data(root: Path) -> dict[str, bytes]:
    folder = root / HOME_DATA
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def run_installed(root: Path, command: str) -> str:
    """`command --version` as installed in `root`: its /usr/bin link, followed inside `root`."""
    link = root / "usr" / "bin" / command
    target = os.readlink(link)
    assert target == f"/opt/carmask-studio/{command}"
    done = subprocess.run(
        [str(root / target.lstrip("/")), "--version"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_package_is_named_for_its_edition_version_and_architecture(packages, deb):
    arch = deb.host_arch()
    assert packages["full", "0.1.0"].name == f"carmask-studio_0.1.0_{arch}.deb"
    assert packages["cpu", "0.1.0"].name == f"carmask-studio-cpu_0.1.0_{arch}.deb"


def test_the_version_defaults_to_the_engines(deb):
    text = (ROOT / "engine" / "__init__.py").read_text()
    assert f'__version__ = "{deb.engine_version()}"' in text


def dpkg_deb(*args) -> str:
    """What the real `dpkg-deb` prints for `args`."""
    return subprocess.run(
        ["dpkg-deb", *map(str, args)], capture_output=True, text=True, check=True
    ).stdout


def test_the_control_file_names_the_x11_libraries_qt_needs(packages):
    info = dpkg_deb("--info", packages["cpu", "0.1.0"])
    fields = dict(
        line.strip().split(": ", 1)
        for line in info.splitlines()
        if line.startswith(" ") and ": " in line
    )
    assert fields["Package"] == "carmask-studio-cpu"
    assert fields["Version"] == "0.1.0"
    depends = {d.split(" (")[0] for d in fields["Depends"].split(", ")}
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "libgl1"} <= depends
    assert fields["Conflicts"] == fields["Replaces"] == "carmask-studio"
    assert "postrm" in info


def test_the_package_holds_the_program_commands_menu_entry_and_icons(packages):
    listing = dpkg_deb("--contents", packages["full", "0.1.0"])
    assert "./opt/carmask-studio/carmask\n" in listing
    assert "./opt/carmask-studio/_internal/resources/models/manifest.json" in listing
    assert "./usr/bin/carmask -> /opt/carmask-studio/carmask\n" in listing
    assert "./usr/bin/carmask-studio -> /opt/carmask-studio/carmask-studio\n" in listing
    assert "./usr/share/doc/carmask-studio/copyright" in listing
    assert "./usr/share/applications/carmask-studio.desktop" in listing
    assert "./usr/share/metainfo/com.carmask.studio.metainfo.xml" in listing
    for size in (16, 48, 256, 512):
        assert f"./usr/share/icons/hicolor/{size}x{size}/apps/carmask-studio.png" in listing
    assert "home/" not in listing


def test_the_menu_entry_opens_folders_and_photos_with_the_window(deb):
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(deb.DESKTOP, encoding="utf-8")
    main = entry["Desktop Entry"]
    assert main["Exec"].split()[0] == "carmask-studio"
    assert main["Icon"] == "carmask-studio"
    mime = main["MimeType"].rstrip(";").split(";")
    assert {"inode/directory", "image/jpeg", "image/png"} <= set(mime)


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate not installed (apt install desktop-file-utils)",
)
def test_the_menu_entry_passes_desktop_file_validate(deb):
    done = subprocess.run(
        ["desktop-file-validate", str(deb.DESKTOP)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and "error" not in done.stdout, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed")
def test_the_appstream_metadata_passes_validation(deb):
    done = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(deb.METAINFO)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("lintian") is None, reason="lintian not installed")
def test_lintian_finds_no_error_but_the_program_folder_in_opt(packages):
    """/opt is where third-party programs go (the Filesystem Hierarchy Standard); lintian's
    dir-or-file-in-opt is only for Debian's own archive. Every other error counts."""
    done = subprocess.run(
        ["lintian", "--tag-display-limit", "0", str(packages["cpu", "0.1.0"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("E:") and "dir-or-file-in-opt" not in line
    ]
    assert errors == [], done.stdout


def test_installed_commands_run_the_program_in_opt(packages, studio_root):
    dpkg(studio_root, "-i", str(packages["full", "0.1.0"]))
    assert run_installed(studio_root, "carmask") == "carmask 0.1.0"
    assert run_installed(studio_root, "carmask-studio") == "carmask-studio 0.1.0"
    desktop = studio_root / "usr/share/applications/carmask-studio.desktop"
    assert "Exec=carmask-studio %F" in desktop.read_text()
    assert (studio_root / "usr/share/icons/hicolor/256x256/apps/carmask-studio.png").is_file()


def test_purge_removes_the_program_and_keeps_the_users_models_and_session(packages, studio_root):
    before = home_data(studio_root)
    dpkg(studio_root, "-i", str(packages["full", "0.1.0"]))
    # a file the program wrote into its own folder: removed too
    (studio_root / "opt/carmask-studio/_internal/leftover.cache").write_text("runtime")
    dpkg(studio_root, "--purge", "carmask-studio")
    assert not (studio_root / "opt/carmask-studio").exists()
    assert not os.path.lexists(studio_root / "usr/bin/carmask")
    assert not (studio_root / "usr/share/applications/carmask-studio.desktop").exists()
    assert home_data(studio_root) == before
    assert len(before) == 2


def test_upgrading_replaces_the_program_and_keeps_the_users_models_and_session(
    packages, studio_root
):
    before = home_data(studio_root)
    dpkg(studio_root, "-i", str(packages["full", "0.1.0"]))
    dpkg(studio_root, "-i", str(packages["full", "0.2.0"]))
    assert run_installed(studio_root, "carmask") == "carmask 0.2.0"
    status = dpkg(studio_root, "-s", "carmask-studio").stdout
    assert "Version: 0.2.0" in status and "install ok installed" in status
    assert home_data(studio_root) == before


def test_switching_to_the_other_edition_leaves_the_new_one_installed(packages, studio_root):
    before = home_data(studio_root)
    dpkg(studio_root, "-i", str(packages["cpu", "0.1.0"]))
    assert run_installed(studio_root, "carmask") == "carmask 0.1.0"
    dpkg(studio_root, "-i", str(packages["full", "0.2.0"]))  # removes the CPU edition
    assert run_installed(studio_root, "carmask") == "carmask 0.2.0"
    assert run_installed(studio_root, "carmask-studio") == "carmask-studio 0.2.0"
    assert home_data(studio_root) == before


def test_a_folder_that_is_not_a_built_bundle_is_refused_by_name(deb, tmp_path):
    empty = tmp_path / "not-a-bundle"
    empty.mkdir()
    with pytest.raises(SystemExit, match="not-a-bundle lacks the executable 'carmask'"):
        deb.build_deb(empty, "full", tmp_path / "out", version="0.1.0")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_each_edition_builds_into_its_own_folder_and_package(load_script):
    build = load_script("packaging/build.py")
    full, cpu = build.default_dist(False, "full"), build.default_dist(False, "cpu")
    assert full == ROOT / "dist" and cpu == ROOT / "dist" / "cpu"
    assert build.default_dist(True, "cpu") == ROOT / "build" / "baseline-dist" / "cpu"
    assert build.version() == build.deb.engine_version()
    with pytest.raises(SystemExit):
        build.main(["--edition", "gpu"])  # argparse refuses it before anything is built


@pytest.mark.bundle
def test_the_real_package_installs_and_runs_in_a_clean_debian_root():
    """packaging/clean_root_test.sh on the real .deb (CARMASK_DEB; CARMASK_PREVIOUS_DEB for the
    upgrade): debootstrap, install, offline --version, predict and --self-test, purge. Needs
    root, debootstrap and Debian's mirror; minutes. Opt-in: pytest -m bundle."""
    package = os.environ.get("CARMASK_DEB")
    if not package or shutil.which("debootstrap") is None or os.geteuid() != 0:
        pytest.skip("set CARMASK_DEB to a built .deb; needs root and debootstrap")
    cmd = ["sh", str(ROOT / "packaging" / "clean_root_test.sh"), package]
    if os.environ.get("CARMASK_PREVIOUS_DEB"):
        cmd.append(os.environ["CARMASK_PREVIOUS_DEB"])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "== all passed" in done.stdout
