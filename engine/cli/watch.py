"""`carmask watch IN --out OUT`: the hot folder. Photos landing in IN are cut out once each file
is complete (`engine.batch.watch.FolderWatcher`), in arrival order, with `carmask predict`'s
reading,
names, formats and atomic writes, and the manifest of `carmask predict --ray`
(`engine.batch.manifest`): a restart redoes nothing that is done, a changed photo is done again."""

from __future__ import annotations

import queue
import signal
import sys
import time
from pathlib import Path

from engine.batch.export import EXPORT_FORMATS, ExportOptions, export_photo
from engine.batch.manifest import (
    DONE,
    FAILED,
    Entry,
    Manifest,
    file_digest,
    mask_settings,
    model_digest,
    options_key,
)
from engine.batch.outputs import OutputPlan
from engine.cli.common import _megapixels, _model_args, _parse_colour, predict_config
from engine.inference.config import PredictConfig
from engine.io import DEFAULT_MAX_MEGAPIXELS, ImageReadError, OutputWriteError, read_photo
from engine.io.console import say

__all__ = ["HotFolder", "add_watch_parser", "cmd_watch"]


class HotFolder:
    """Cuts out one photo at a time into `out`, recording each in the folder's manifest."""

    def __init__(self, out, predictor, config: PredictConfig, args) -> None:
        self.out = Path(out)
        self.predictor = predictor
        formats = tuple(args.format or ["png"])
        self.options = ExportOptions(formats=formats, background=args.background)
        self.max_megapixels = args.max_megapixels
        self.model = model_digest(config.models, **mask_settings(config))
        self.opts = options_key(formats, args.background)
        self.manifest = Manifest(out)
        self.plan = OutputPlan(formats)
        for photo in self.manifest.done_outputs():  # their names stay theirs across restarts
            self.plan.assign(photo, out)
        self.done, self.unchanged = 0, 0
        self.failed: list[tuple[Path, str]] = []

    def process(self, path: Path) -> str:
        """ "done", "unchanged" (the manifest has it done) or "failed"."""
        t0 = time.perf_counter()
        try:
            digest = file_digest(path)
        except OSError as exc:
            return self._failed(path, "", exc.strerror or str(exc))
        if self.manifest.is_done(path, digest, self.model, self.opts):
            self.unchanged += 1
            return "unchanged"
        from engine.cli.predict import _finish_before_stopping

        try:
            photo = read_photo(path, self.max_megapixels)
            alpha = self.predictor.predict_matte(photo.rgb).alpha  # the main car, soft edge
            paths = self.plan.assign(path, self.out)
            with _finish_before_stopping():  # a cutout never lacks the mask asked with it
                export_photo(photo.rgb, alpha, path, self.out, self.options, self.plan, photo.alpha)
                seconds = time.perf_counter() - t0
                entry = Entry(
                    str(path),
                    digest,
                    self.model,
                    self.opts,
                    DONE,
                    {f: p.name for f, p in paths.items()},
                    seconds=round(seconds, 3),
                )
                self.manifest.record(entry)
        except (ImageReadError, OutputWriteError) as exc:
            where = "" if Path(exc.path) == path else f"{exc.path}: "
            return self._failed(path, digest, where + exc.reason)
        self.done += 1
        say(f"done: {path} ({seconds:.2f} s)")
        return "done"

    def _failed(self, path: Path, digest: str, reason: str) -> str:
        self.failed.append((path, reason))
        say(f"failed: {path}: {reason}")
        entry = Entry(str(path), digest, self.model, self.opts, FAILED, reason=reason)
        try:
            self.manifest.record(entry)
        except OutputWriteError as exc:
            say(f"failed: {exc}")
        return "failed"


def cmd_watch(args) -> int:
    from engine.batch.watch import FolderWatcher

    try:
        import watchdog  # noqa: F401
    except ImportError:
        raise SystemExit("carmask: error: watch needs watchdog: pip install watchdog") from None

    folder = Path(args.folder)
    if not folder.is_dir():
        raise SystemExit(f"carmask: error: {folder}: not a folder")
    if Path(args.out).resolve() == folder.resolve():
        raise SystemExit(
            f"carmask: error: --out {args.out} is the watched folder: the cutouts would be "
            "taken for new photos; write them to another folder (one inside it is fine)"
        )
    from engine.inference.predict import Predictor  # torch: not at the CLI's start

    config = predict_config(args)
    predictor = Predictor.from_config(config)
    hot = HotFolder(args.out, predictor, config, args)
    arrived: queue.Queue[Path] = queue.Queue()
    watcher = FolderWatcher(
        folder, arrived.put, settle_s=args.settle, ignore=[args.out], on_status=say
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop: as Ctrl-C
    watcher.start()
    print(
        f"watching {folder} into {args.out} (device: {predictor.device_label}; model: "
        f"{predictor.label}); Ctrl-C stops",
        flush=True,
    )
    try:
        while True:
            try:
                path = arrived.get(timeout=0.5)
            except queue.Empty:
                continue
            hot.process(path)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
    print(f"stopped: done: {hot.done}, failed: {len(hot.failed)}, already done: {hot.unchanged}")
    for path, reason in hot.failed:
        print(f"  failed: {path}: {reason}")
    return 0


def _interrupt(_sig, _frame):
    raise KeyboardInterrupt


def add_watch_parser(sub) -> None:
    p = sub.add_parser(
        "watch",
        help="hot folder: cut out the photos that land in a folder, once each file is complete",
    )
    p.add_argument("folder", help="the folder to watch (and its subfolders)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--format", action="append", choices=EXPORT_FORMATS, help="as for predict")
    p.add_argument("--background", type=_parse_colour, default="#FFFFFF")
    p.add_argument("--max-megapixels", type=_megapixels, default=DEFAULT_MAX_MEGAPIXELS)
    p.add_argument(
        "--settle",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="a file is complete once its size has not changed for this long (default 2)",
    )
    p.add_argument("-q", "--quiet", action="store_true")
    _model_args(p)
    p.set_defaults(func=cmd_watch)
