"""`carmask watch IN --out OUT`: the hot folder. Photos landing in IN are cut out once each file
is complete (`engine.batch.watch.FolderWatcher`), in arrival order, with `carmask predict`'s
reading, names, formats and atomic writes (`engine.batch.photo.process_photo`), and the
folder's ledger (`engine.batch.manifest`): a restart redoes nothing that is done, a changed
photo is done again."""

from __future__ import annotations

import contextlib
import queue
import signal
import sys
from pathlib import Path

from engine.batch.export import EXPORT_FORMATS, ExportOptions
from engine.batch.manifest import Ledger, mask_settings, model_digest, options_key
from engine.batch.outputs import OutputPlan
from engine.batch.photo import (
    FAILED,
    UNCHANGED,
    PhotoJob,
    exporting,
    finish_before_stopping,
    process_photo,
)
from engine.cli.common import _megapixels, _model_args, _parse_colour, predict_config
from engine.inference.config import PredictConfig
from engine.io import DEFAULT_MAX_MEGAPIXELS, ImageReadError, OutputWriteError
from engine.io.console import say

__all__ = ["HotFolder", "add_watch_parser", "cmd_watch"]


class HotFolder:
    """Cuts out one photo at a time into `out` (`engine.batch.photo.process_photo`), recording
    each in the folder's ledger."""

    def __init__(self, out, predictor, config: PredictConfig, args) -> None:
        self.out = Path(out)
        self.predictor = predictor
        formats = tuple(args.format or ["png"])
        self.options = ExportOptions(formats=formats, background=args.background)
        self.max_megapixels = args.max_megapixels
        model = model_digest(config.models, **mask_settings(config))
        self.ledger = Ledger(out, model, options_key(formats, args.background))
        self.plan = OutputPlan(formats)
        for photo in self.ledger.manifest.done_outputs():  # their names stay theirs
            self.plan.assign(photo, out)
        self.export = exporting(self.out, self.options, self.plan)
        self.done, self.unchanged = 0, 0
        self.failed: list[tuple[Path, str]] = []

    def process(self, path: Path) -> str:
        """ "done", "unchanged" (the ledger has it done) or "failed"."""
        with contextlib.ExitStack() as writing:

            def write(job: PhotoJob, photo, matte) -> list[Path]:
                # a cutout never lacks the mask asked with it, nor its line in the ledger
                writing.enter_context(finish_before_stopping())
                return self.export(job, photo, matte)

            job = PhotoJob(path, expect=self.ledger.expect(path))
            result = process_photo(job, self.predictor, write, self.max_megapixels, ledger=True)
            if result.status == UNCHANGED:
                self.unchanged += 1
                return "unchanged"
            if result.status == FAILED:
                if not result.photo_error:
                    raise result.error  # type: ignore[misc]
                exc = result.error
                assert isinstance(exc, (ImageReadError, OutputWriteError))
                where = "" if Path(exc.path) == path else f"{exc.path}: "
                return self._failed(path, result.digest, where + exc.reason)
            try:
                self.ledger.done(
                    path, result.digest, self.plan.assign(path, self.out), result.seconds
                )
            except OutputWriteError as exc:
                return self._failed(path, result.digest, f"{exc.path}: {exc.reason}")
            # counted before a Ctrl-C held back during the write stops the watch (at the
            # with block's end): the summary counts every photo whose outputs were written
            self.done += 1
            say(f"done: {path} ({result.seconds:.2f} s)")
        return "done"

    def _failed(self, path: Path, digest: str, reason: str) -> str:
        self.failed.append((path, reason))
        say(f"failed: {path}: {reason}")
        try:
            self.ledger.failed(path, digest, reason)
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
    from engine.inference.editions import predictor_from_config  # torch: not at the start

    config = predict_config(args)
    predictor = predictor_from_config(config)
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
