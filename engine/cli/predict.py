"""`carmask predict`: cut out the cars of a batch, every file accounted for."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine.batch.export import ExportOptions
from engine.batch.intake import find_photos
from engine.batch.manifest import Ledger, mask_settings, model_digest, options_key
from engine.batch.outputs import NAME_PATTERNS, OutputPlan
from engine.batch.photo import (
    FAILED,
    UNCHANGED,
    PhotoJob,
    PhotoResult,
    exporting,
    finish_before_stopping,
    run_batch,
)
from engine.cli.common import predict_config
from engine.inference.config import PredictConfig
from engine.io import (
    TEMP_PREFIX,
    ImageReadError,
    OutputWriteError,
    os_error_reason,
    read_photo,
)
from engine.io.console import StuckDump, say


def cmd_predict(args, predictors=None) -> int:
    """The batch, a photo per lane at once (`engine.batch.photo.run_batch`); `predictors` (one
    per lane: benchmarks/pipeline.py) stand for the ones the options make."""
    if getattr(args, "ray", None) is not None:  # the batch on a Ray cluster: engine.cluster
        from engine.cluster import cmd_predict_ray

        return cmd_predict_ray(args, lambda: predict_config(args))
    from engine.review.confidence import empty_cutout_note  # cv2: not at the CLI's start

    intake = find_photos(args.inputs)
    options = ExportOptions(formats=tuple(args.format or ["png"]), background=args.background)
    names, unlisted = _listing_names(args, intake.photos)
    plan = OutputPlan(options.formats, intake.photos, names)
    report = _report(args, intake, plan)
    listing = _listing(args, plan, intake.photos) if "listing" in options.formats else None
    name_notes = _unlisted_notes(args, unlisted, report)
    config = predict_config(args)
    if predictors:
        restore_threads = lambda: None  # noqa: E731
    else:
        from engine.inference.lanes import make_lanes  # torch: not at the CLI's start

        predictors, restore_threads = make_lanes(config, len(intake.photos))
    try:  # every name chosen and claimed before anything is written; once the model loaded,
        # so that a model that does not load leaves no output folder behind
        _claim_outputs(args, plan, intake.photos, report)
    except BaseException:
        restore_threads()
        raise
    predictor = predictors[0]
    at_once = f"; {len(predictors)} photos at a time" if len(predictors) > 1 else ""
    device = f"{predictor.device_label}{at_once}"  # said at the start and in the summary
    say(f"device: {device}; model: {predictor.label}")
    failed: list[tuple[Path, str]] = []
    notes: list[tuple[Path, str]] = name_notes
    done, times = 0, list[float]()

    def framed(result) -> None:  # a car's listing frames, once its last photo is in
        if result is not None:
            failed.extend(result.failed)
            notes.extend(result.notes)
            for reason in result.failed:
                say(f"failed: {reason[0]}: {reason[1]}")
            if result.spin:
                notes.append((result.spin, "360° spin page written"))

    ledger = _ledger(args.out, config, options, report is None and listing is None)
    unchanged = 0
    bar = tqdm(
        total=len(intake.photos), desc="photos", unit="photo", disable=args.quiet, file=sys.stderr
    )
    started = time.perf_counter()

    def fail(path: Path, exc: BaseException) -> None:
        assert isinstance(exc, (ImageReadError, OutputWriteError))
        failed.append((exc.path, exc.reason))
        say(f"failed: {exc}")
        if report:
            report.not_done(path, "failed", f"{exc.path}: {exc.reason}")

    def finished(result: PhotoResult) -> None:  # on this thread, in the photos' order
        nonlocal done, unchanged
        path = result.path
        bar.update()
        if result.status == UNCHANGED:  # done by an earlier run, as the ledger says
            done, unchanged = done + 1, unchanged + 1
            return
        if result.status == FAILED:
            if not result.photo_error:
                raise result.error  # type: ignore[misc]
            fail(path, result.error)  # type: ignore[arg-type]
            batch.behind(lambda: listing.skip(path) if listing else None, framed)
            return
        _record(ledger, result, plan.assign(path, args.out), notes)
        photo, matte = result.photo, result.matte
        assert photo is not None and matte is not None
        batch.behind(lambda: listing.add(path, matte.mask) if listing else None, framed)
        for note in (photo.note, empty_cutout_note(matte.mask)):
            if note:
                notes.append((path, note))
        times.append(result.seconds)
        done += 1
        if report:
            report.done(path, matte.mask, matte.confidence, result.seconds, matte.report())

    batch = run_batch(
        [PhotoJob(path, expect=ledger.expect(path)) for path in intake.photos],
        predictors,
        exporting(args.out, options, plan),
        max_megapixels=args.max_megapixels,
        checked=bool(report),
        ledger=True,
        patience=_stall_seconds(),
        stalled=_say_stalled,
    )
    # no photo for three stall periods: every thread's stack on stderr, even if Python is stuck
    stuck = StuckDump(3 * _stall_seconds())
    try:
        with stuck:
            for result in batch:
                stuck.arm()
                finished(result)
            batch.close()
    except KeyboardInterrupt:
        with finish_before_stopping():  # a cutout never lacks the mask asked with it
            for result in batch.stop():  # the photos in progress finish, and count
                finished(result)
            batch.close()
        bar.close()
        left = len(intake.photos) - done - len(failed)
        for car in listing.unfinished() if listing else ():
            notes.append(
                (Path(car), "listing frames not written: the car's angles were not all done")
            )
        wall = time.perf_counter() - started
        extra = f", not started: {left}"
        _predict_summary(done, failed, notes, intake, times, device, extra, wall, unchanged)
        _write_report(report, intake.photos)
        print("interrupted: the photos done so far are complete; run again to finish the rest")
        return 130
    finally:
        restore_threads()
    bar.close()
    wall = time.perf_counter() - started
    _predict_summary(done, failed, notes, intake, times, device, wall=wall, unchanged=unchanged)
    reported = _write_report(report, intake.photos)
    return 1 if failed or not intake.photos or not reported else 0


STALL_SECONDS = 60.0  # no photo finished for this long: the batch says so (CARMASK_STALL_SECONDS)


def _stall_seconds() -> float:
    try:
        return float(os.environ.get("CARMASK_STALL_SECONDS", STALL_SECONDS))
    except ValueError:
        return STALL_SECONDS


def _say_stalled(path: Path, seconds: float) -> None:
    """A batch that makes no progress says so, naming the photo it waits on."""
    message = (
        f"no progress: no photo finished for {seconds:.3g} s; still waiting on {path} "
        "(Ctrl-C stops the batch after the photos in progress)"
    )
    say(message)


def _report(args, intake, plan: OutputPlan):
    """The batch's --report (`engine.review.report`), checked before the model loads: not a
    photo, a folder, CarMask's own file or any file but an earlier report; no output of the
    plan is named as it."""
    if not getattr(args, "report", None):
        return None
    from engine.review.report import BatchReport

    path = Path(args.report)

    def refuse(why: str):
        raise SystemExit(f"carmask: error: --report {path}: {why}")

    if path.resolve() in {p.resolve() for p in intake.photos}:
        refuse("that is one of the photos")
    if path.is_dir():
        refuse("is a folder; name a file")
    if path.name.startswith((".carmask", TEMP_PREFIX)):
        refuse("that is CarMask's record of an output folder; name a new file")
    if path.exists() and not BatchReport.is_report(path):
        refuse("a file that is not a carmask report is there (left as it is); name a new file")
    folder = next((f for f in path.absolute().parents if f.exists()), None)
    if folder is not None and not folder.is_dir():
        refuse(f"{folder} is a file, not a folder")
    if path.parent.resolve() == Path(args.out).resolve():
        for photo in intake.photos:
            for fmt in plan.formats:
                if NAME_PATTERNS[fmt].format(stem=photo.stem).casefold() == path.name.casefold():
                    refuse(f"the batch writes the {fmt} output of {photo} there; name another file")
    plan.keep_clear(path)  # nothing the batch writes takes its name
    report = BatchReport(path)
    for photo, reason in intake.skipped:
        report.not_done(photo, "skipped", reason)
    return report


def _claim_outputs(args, plan: OutputPlan, photos: list[Path], report) -> None:
    """Every output name of the batch chosen and claimed; the report's folder made (so that it
    can be written when the batch ends)."""
    try:
        plan.assign_all(photos, args.out)
    except OutputWriteError as exc:
        raise SystemExit(f"carmask: error: {exc.path}: {exc.reason}") from None
    if report is None:
        return
    try:
        report.path.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SystemExit(
            f"carmask: error: --report {report.path}: cannot make its folder: "
            f"{os_error_reason(exc)}"
        ) from None
    if not os.access(report.path.absolute().parent, os.W_OK):
        raise SystemExit(f"carmask: error: --report {report.path}: its folder is not writable")


def _write_report(report, photos: list[Path]) -> bool:
    """The report, with the photos the batch did not reach (Ctrl-C) as not started; False if
    it could not be written (said)."""
    if report is None:
        return True
    seen = {row["file"] for row in report.rows}
    for photo in photos:
        if str(photo) not in seen:
            report.not_done(photo, "not started", "the batch stopped before this photo")
    try:
        say(f"report: {report.write()}")
    except OutputWriteError as exc:
        print(f"  failed: {exc.path}: {exc.reason}")
        return False
    return True


def _listing_names(args, photos: list[Path]) -> tuple[dict[Path, str] | None, dict]:
    """The listing frames' names from --name-template (and --stock-numbers), if given, and
    the cars the stock file lacks (named by their id); every listing option is refused
    without --format listing, and any name two photos would share, before a photo is read."""
    given = getattr(args, "listing_options", None) or []
    if given and "listing" not in (args.format or ()):
        raise SystemExit(f"carmask: error: {given[0]} is for listing frames: add --format listing")
    from engine.listing.naming import listing_names, read_stock_numbers, unlisted_cars, uses_stock

    template = getattr(args, "name_template", None)
    if getattr(args, "stock_numbers", None) and not (template and uses_stock(template)):
        raise SystemExit(
            "carmask: error: --stock-numbers gives the {stock} of --name-template, which "
            "needs one that holds it, e.g. --name-template '{stock}_{angle:02d}'"
        )
    if not template:
        return None, {}

    stocks = {}
    if args.stock_numbers:
        try:
            stocks = read_stock_numbers(args.stock_numbers)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"carmask: error: --stock-numbers: {exc}") from None
    try:
        names = listing_names(args.name_template, photos, stocks)
    except ValueError as exc:
        raise SystemExit(f"carmask: error: --name-template: {exc}") from None
    return names, unlisted_cars(photos, stocks) if args.stock_numbers else {}


def _unlisted_notes(args, unlisted: dict, report) -> list[tuple[Path, str]]:
    """A note per car the stock file lacks, in the summary and on its photos in the report."""
    notes = []
    for car, photos in unlisted.items():
        text = f"not in {args.stock_numbers}: its listing frames are named with its id"
        notes.append((Path(car), text))
        for photo in photos if report else ():
            report.note(photo, text)
    return notes


def _listing(args, plan: OutputPlan, photos: list[Path]):
    """The batch's listing frames, as the --size, --backdrop*, --shadow* and --margin say."""
    from engine.listing.batch import ListingBatch, ListingOptions
    from engine.listing.render import Backdrop, ShadowStyle

    image = None
    if args.backdrop_image:
        try:
            image = read_photo(args.backdrop_image).rgb
        except ImageReadError as exc:
            raise SystemExit(f"carmask: error: --backdrop-image {exc.path}: {exc.reason}") from None
    options = ListingOptions(
        size=args.size,
        backdrop=Backdrop(args.backdrop, args.backdrop_bottom, image),
        shadow=ShadowStyle(args.shadow, args.shadow_strength),
        margin=args.margin,
        spin=args.spin,
    )
    return ListingBatch(options, plan, args.out, photos)


def _ledger(out, config: PredictConfig, options: ExportOptions, skip: bool) -> Ledger:
    """The output folder's ledger (`engine.batch.manifest`): a photo done before with these
    models, settings and formats, its bytes and outputs unchanged, is not done again (`skip`)."""
    model = model_digest(config.models, **mask_settings(config))
    return Ledger(out, model, options_key(options.formats, options.background), skip)


def _record(ledger: Ledger, result: PhotoResult, outputs: dict, notes: list) -> None:
    """The photo's line in the ledger; one that cannot be written is said (the photo is done,
    a rerun does it again)."""
    try:
        ledger.done(result.path, result.digest, outputs, result.seconds)
    except OutputWriteError as exc:
        notes.append((result.path, f"not recorded as done ({exc.path}: {exc.reason})"))


def _predict_summary(
    done, failed, notes, intake, times, device, extra="", wall=0.0, unchanged=0
) -> None:
    per = ""
    if times:  # a photo's own time (it overlaps the next ones'), and the batch's pace
        per = f", {np.median(times):.2f} s per photo (median), {(done - unchanged) / wall:.2f}"
        per += " photos/s"
    more = f", {summary}" if (summary := intake.summary()) else ""
    if unchanged:  # counted as done: their outputs are there, as the earlier run wrote them
        more += f", already done: {unchanged} (unchanged since an earlier run)"
    print(f"done: {done}, failed: {len(failed)}{extra}{more}{per}; device: {device}")
    for path, reason in failed:
        print(f"  failed: {path}: {reason}")
    for path, reason in intake.skipped:
        print(f"  skipped: {path}: {reason}")
    for path, note in notes:
        print(f"  note: {path}: {note}")
