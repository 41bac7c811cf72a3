"""The ``dangke`` command line (click). Thin: parse options, call one stage, print.

Exit status: 0 success; 1 some inputs were rejected or some work failed (the rest is
still done); 2 bad usage or configuration. One clear line per problem; tracebacks only
with ``--debug``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path

import click

from . import __version__
from .catalog import Catalog
from .config import Config, find_config, load_config
from .errors import ConfigError, DangkeError, UsageError
from .models import Quarter


class Context:
    """Per-invocation state: the config path, debug flag and the worst outcome so far."""

    def __init__(self, config: str | None = None, debug: bool = False) -> None:
        self.config_path = config
        self.debug = debug
        self.status = 0
        self._cfg: Config | None = None

    @property
    def cfg(self) -> Config:
        if self._cfg is None:
            self._cfg = load_config(find_config(self.config_path))
        return self._cfg

    def catalog(self) -> Catalog:
        return Catalog(self.cfg.library / "catalog.sqlite")

    def fail(self, code: int = 1) -> None:
        self.status = max(self.status, code)


def say(text: str = "") -> None:
    click.echo(text)


def problem(text: str) -> None:
    click.echo(text, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", default=None,
              help="Station configuration (default: $DANGKE_CONFIG, else ./dangke.toml).")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="dangke")
@click.pass_context
def cli(ctx: click.Context, config: str | None, debug: bool) -> None:
    """dangke: ingest, normalize, encode, plan, schedule and publish Party lessons."""
    state = ctx.ensure_object(Context)
    state.config_path, state.debug = config, debug


def _quarter(text: str | None, cfg: Config) -> Quarter:
    if not text:
        return Quarter.containing(cfg.today()).next()
    try:
        quarter = Quarter.parse(text)
    except ValueError as exc:
        raise UsageError(str(exc), fix="use e.g. --quarter 2027Q1") from exc
    now = Quarter.containing(cfg.today())
    if (quarter.year, quarter.number) < (now.year, now.number):
        raise UsageError(f"{quarter} has ended (it is {now} now): plans are for this or a coming quarter",
                         fix=f"use e.g. --quarter {now.next()}")
    return quarter


def _date(text: str | None, cfg: Config) -> dt.date:
    if not text:
        return cfg.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"not a date: {text!r}", fix="use e.g. --date 2026-12-01") from exc


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def init(obj: Context, directory: Path) -> None:
    """Create a new station folder: dangke.toml, inbox/, fleet.csv."""
    from .shipped import shipped_config_dir
    src = shipped_config_dir()
    if (directory / "dangke.toml").exists():
        raise UsageError("a station already exists here", path=directory / "dangke.toml",
                         fix="choose an empty folder or edit the existing dangke.toml")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "dangke.toml", directory / "dangke.toml")
    shutil.copy2(src / "fleet.csv", directory / "fleet.csv")
    if (src / "orders.csv").is_file():
        shutil.copy2(src / "orders.csv", directory / "orders.csv")
    if (src / "assets").is_dir():
        shutil.copytree(src / "assets", directory / "assets", dirs_exist_ok=True)
    for sub in ("inbox", "library", "rejected"):
        (directory / sub).mkdir(exist_ok=True)
    say(f"Created station in {directory}")
    say(f"  configuration: {directory / 'dangke.toml'}")
    say(f"  drop recordings into: {directory / 'inbox'}")
    say(f"  then run: dangke --config {directory / 'dangke.toml'} run")


def _print_ingest(obj: Context, report, summary: bool = True) -> None:
    for a in report.accepted:
        version = f"v{a.version}" + (f" (supersedes v{a.supersedes})" if a.supersedes else "")
        done = " (finished after an interrupted run)" if a.resumed else ""
        say(f"accepted  {a.name} -> {a.lesson_id} {version} [{a.category}, {a.dialect}, "
            f"{a.duration_s:.1f} s] {a.title}{done}")
        for w in a.warnings:
            say(f"  warning: {w}")
    for d in report.duplicates:
        say(f"duplicate {d.name}: {d.note}")
    for r in report.rejected:
        problem(f"rejected  {r.name}: {r.reason} / {r.reason_zh}")
        problem(f"  what to do: {r.fix} / {r.fix_zh} (see rejected/{r.note_name})")
    for r in report.retry:
        problem(f"not done  {r.name}: {r.problem}")
    for w in report.waiting:
        say(f"waiting   {w.name}: {w.why}" + (f" / {w.why_zh}" if w.why_zh else ""))
    if summary:
        warned = sum(1 for a in report.accepted if a.warnings)
        say(f"ingest: {len(report.accepted)} accepted ({warned} with warnings), "
            f"{len(report.duplicates)} duplicate(s), {len(report.rejected)} rejected, "
            f"{len(report.waiting)} waiting" + (f", {len(report.retry)} to retry" if report.retry else "")
            + (" (stopped early)" if report.stopped else ""))
    if report.failed:
        obj.fail()


@contextmanager
def _graceful_stop(what: str):
    """First Ctrl-C (or SIGTERM) sets the yielded event: the current file finishes, then the
    command stops. A second Ctrl-C stops at once (nothing is lost: ingest is crash-safe)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, _frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        problem(f"stopping {what} after the current file (Ctrl-C again to stop at once)")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


@contextmanager
def _cluster_progress(what: str):
    """Batches run on a Dask cluster ([compute] scheduler, issue 16): one stderr line each
    time a task finishes or fails, with the counts and which task is on which worker."""
    from . import compute
    seen: list[object] = [None]

    def show(s) -> None:
        if (s.done, s.failed) != seen[0]:
            seen[0] = (s.done, s.failed)
            problem(f"{what} on the cluster: {s.line()}")

    with compute.reporting(show):
        yield


def do_ingest(obj: Context) -> None:
    from .ingest import ingest_pass
    with obj.catalog() as cat, _graceful_stop("ingest") as stop, _cluster_progress("ingest"):
        _print_ingest(obj, ingest_pass(obj.cfg, cat, should_stop=stop.is_set))


def do_encode(obj: Context) -> None:
    from .encode import encode_all
    with obj.catalog() as cat, _cluster_progress("encode"):
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            bar = tqdm(desc="encode", unit="lesson", file=sys.stderr)
        report = encode_all(obj.cfg, cat, progress=(lambda _r: bar.update(1)) if bar is not None else None,
                            on_total=(lambda n: (setattr(bar, "total", n), bar.refresh()))
                            if bar is not None else None)
        if bar is not None:  # bool(tqdm) raises while its total is unknown
            bar.close()
    for note in report.notes:
        say(f"note: {note}")
    for subject, profile, message in report.errors:
        problem(f"encode failed: {subject} [{profile}]: {message}")
    say(f"encode: {len(report.made)} rendition(s) made, {report.cached} already cached, "
        f"{len(report.errors)} failed")
    if report.failed:
        obj.fail()


def _reason_lines(label: str, problems, limit: int = 15) -> list[str]:
    """Problems grouped by reason, most common first, at most ``limit`` lines."""
    from playlists.report import reasons
    out = []
    found = reasons(problems)
    for r in found[:limit]:
        who = r.first if r.count == 1 else f"{r.first} and {r.count - 1} more like it"
        out.append(f"{label}{'' if r.kind == 'not-planned' else f' ({r.kind})'}: {who}: {r.text}")
    if len(found) > limit:
        rest = sum(r.count for r in found[limit:])
        out.append(f"{label}: {rest} more device(s) with {len(found) - limit} other reason(s): see problems.csv")
    return out


def _summary_table(rows) -> list[str]:
    from .vocab import CATEGORIES
    head = ["township", "devices", "planned", "problems", "shortfalls", "hours", *CATEGORIES, "MB to write"]
    body = [[r.township, r.devices, r.planned, r.not_planned, r.with_shortfalls, f"{r.hours:.1f}",
             *(f"{dict(r.seconds).get(c, 0.0) / 3600:.1f}" for c in CATEGORIES), f"{r.bytes_to_write / 1e6:.0f}"]
            for r in rows]
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    sizes = [max(width(str(row[n])) for row in [head, *body]) for n in range(len(head))]
    lines = []
    for row in [head, *body]:
        cells = [str(c) + " " * (sizes[n] - width(str(c))) if n == 0 else " " * (sizes[n] - width(str(c))) + str(c)
                 for n, c in enumerate(row)]
        lines.append("  " + "  ".join(cells))
    return lines


def do_plan(obj: Context, quarter: Quarter) -> None:
    from .plan import run_plan
    with obj.catalog() as cat:
        report = run_plan(obj.cfg, cat, quarter)
    for line in _reason_lines("not planned", report.problems):
        problem(line)
    say(f"plan {report.quarter}: {report.planned} of {report.devices} device(s) planned, "
        f"{len(report.problems)} with problems, "
        f"{len({p.device_id for p in report.shortfalls})} with shortfalls, {report.written} file(s) written "
        f"({report.solves} requirement set(s) solved in {report.seconds:.1f} s)")
    for line in _summary_table(report.summary):
        say(line)
    for line in _reason_lines("shortfall", report.shortfalls):
        say(line)
    for note in report.notes:
        say(f"note: {note}")
    if report.reports:
        say("reports: " + ", ".join(str(p) for p in report.reports))
    if report.failed:
        obj.fail()


def do_schedule(obj: Context, first: dt.date, days: int, force: bool = False) -> None:
    from .schedule import run_schedule
    if days < 1:
        raise UsageError("--days must be at least 1")
    with obj.catalog() as cat:
        report = run_schedule(obj.cfg, cat, first, days, force=force)
    for n in report.notes:
        say(f"note: {n}")
    for p in report.problems:
        problem(f"schedule problem: {p}")
    channels = sorted({d.channel for d in report.days})
    if report.days or not report.kept:
        say(f"schedule: {len(report.days)} channel-day(s) from {first} ({days} day(s)) for "
            f"{', '.join(channels) or 'no channel'}")
    if report.kept:
        say(f"schedule: {len(report.kept)} channel-day(s) kept as published "
            f"({', '.join(f'{c} {d}' for c, d in report.kept)}); use --force to plan them again")
    if report.failed:
        obj.fail()


def do_publish(obj: Context, dry_run: bool, verify: bool = False) -> None:
    from .publish import publish
    bar = None

    def progress(p) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm
            bar = tqdm(total=p.bytes_total, desc="publish", unit="B", unit_scale=True, file=sys.stderr)
        if p.phase != "delete":
            bar.set_postfix_str(f"{p.phase} {p.done}/{p.total}", refresh=False)
            bar.update(p.bytes_done - bar.n)
    with obj.catalog() as cat:
        try:
            report = publish(obj.cfg, cat, dry_run=dry_run, verify=verify,
                             progress=progress if sys.stderr.isatty() and not dry_run else None)
        finally:
            if bar is not None:
                bar.close()
    v = report.verify
    if v is not None and (verify or v.missing or v.different or v.adopted):
        say(f"verify: {v.known} object(s) in the ledger, {v.listed} in the store; {len(v.missing)} missing, "
            f"{len(v.different)} different, {len(v.adopted)} found whole without a ledger entry")
        for key in v.missing:
            say(f"  missing   {key}")
        for key in v.different:
            say(f"  different {key}")
    if dry_run:
        for key, size in report.uploads:
            say(f"would upload {key} ({size} bytes)")
        for key, size in report.deletes:
            say(f"would delete {key} ({size} bytes)")
        what = "no new generation" if report.generation is None else f"generation {report.generation}"
        say(f"publish (dry run): {what}; {len(report.uploads)} upload(s), {report.uploaded_bytes} bytes; "
            f"{len(report.deletes)} delete(s), {report.deleted_bytes} bytes; to {report.store}")
    elif report.generation is None:
        say(f"publish: nothing changed; generation {report.previous} at {report.store} is up to date"
            + (f"; pruned {len(report.deletes)} object(s)" if report.deletes and not report.problems else ""))
    else:
        say(f"publish: generation {report.generation} at {report.store}: {len(report.uploads)} object(s) "
            f"uploaded ({report.uploaded_bytes} bytes), {report.unchanged} unchanged, "
            f"{len(report.deletes)} pruned ({report.deleted_bytes} bytes)")
    for p in report.problems:
        problem(f"publish problem: {p}")
    if report.problems:
        obj.fail()


@cli.command()
@click.pass_obj
def ingest(obj: Context) -> None:
    """One pass over the inbox."""
    do_ingest(obj)


@cli.command()
@click.option("--poll", "poll_s", type=float, default=None,
              help="Also scan the inbox this often (seconds; default [ingest] poll_s), for shares "
                   "without file events.")
@click.option("--no-events", is_flag=True, help="Do not use file events; only scan every --poll seconds.")
@click.pass_obj
def watch(obj: Context, poll_s: float | None, no_events: bool) -> None:
    """Ingest continuously as files arrive (Ctrl-C stops)."""
    from .watch import watch_inbox
    poll = obj.cfg.ingest.poll_s if poll_s is None else poll_s
    if poll <= 0:
        raise UsageError("--poll must be a positive number of seconds")
    say(f"watching {obj.cfg.inbox} (scan every {poll:g} s; Ctrl-C to stop)")
    with obj.catalog() as cat, _graceful_stop("watching") as stop:
        try:
            watch_inbox(obj.cfg, cat, poll, on_report=lambda r: _print_ingest(obj, r, summary=False),
                        stop=stop, on_note=lambda n: say(f"note: {n}"), use_events=not no_events)
        except KeyboardInterrupt:
            say("stopped at once; the next run finishes any interrupted file")
            return
    say("stopped")


@cli.command()
@click.pass_obj
def encode(obj: Context) -> None:
    """Render every accepted lesson for every profile."""
    do_encode(obj)


@cli.command()
@click.option("--quarter", metavar="YYYYQn", help="Quarter to plan (default: the next quarter).")
@click.pass_obj
def plan(obj: Context, quarter: str | None) -> None:
    """Device playlists for a quarter."""
    do_plan(obj, _quarter(quarter, obj.cfg))


@cli.command()
@click.option("--date", "date", metavar="YYYY-MM-DD", help="First day (default: today).")
@click.option("--days", type=click.IntRange(min=1), default=1, show_default=True, help="Number of days.")
@click.option("--force", is_flag=True, help="Plan again days that were already published.")
@click.pass_obj
def schedule(obj: Context, date: str | None, days: int, force: bool) -> None:
    """Daily broadcast schedules."""
    do_schedule(obj, _date(date, obj.cfg), days, force)


@cli.command()
@click.option("--dry-run", is_flag=True, help="List what would be uploaded and deleted (with bytes); change nothing.")
@click.option("--verify", is_flag=True, help="Check the publish ledger against the store's listing first; "
              "upload again what is missing or different.")
@click.pass_obj
def publish(obj: Context, dry_run: bool, verify: bool) -> None:
    """Push to the configured store, feeds and index last; prune old generations."""
    do_publish(obj, dry_run, verify)


@cli.command()
@click.option("--quarter", metavar="YYYYQn", help="Quarter to plan (default: the next quarter).")
@click.option("--date", "date", metavar="YYYY-MM-DD", help="First broadcast day (default: today).")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Broadcast days to schedule.")
@click.pass_obj
def run(obj: Context, quarter: str | None, date: str | None, days: int) -> None:
    """All stages in order: ingest, encode, plan, schedule, publish."""
    q, first = _quarter(quarter, obj.cfg), _date(date, obj.cfg)
    do_ingest(obj)
    do_encode(obj)
    do_plan(obj, q)
    do_schedule(obj, first, days)
    do_report(obj)  # before publish, so the report goes out with this generation
    do_publish(obj, dry_run=False)
    if obj.cfg.library_gc.gc_after_run and obj.status == 0:   # [library] gc_after_run (issue 12)
        do_gc(obj, dry_run=False)


# -- report (issue 14) ------------------------------------------------------------------------

def do_report(obj: Context) -> None:
    from .report import build_report
    with obj.catalog() as cat:
        r = build_report(obj.cfg, cat)
    for note in r.notes:
        say(f"note: {note}")
    say(f"report: {r.pages} page(s) ({r.pages_written} changed), {r.pictures} picture(s) "
        f"({r.pictures_drawn} drawn), {r.removed} old file(s) removed in {r.seconds:.1f} s; "
        f"open {r.index} (published with the next `dangke publish`)")


@cli.command()
@click.pass_obj
def report(obj: Context) -> None:
    """Write the station report (static HTML with pictures) into the build tree's reports/."""
    do_report(obj)


def _open_source(obj: Context, source: str | None):
    """The store a card load or a playout sync reads: the configured store (None),
    ``public`` (the station's base_url) or a URL (see :func:`pipeline.card.open_source`)."""
    from .card import open_source
    if source is None:
        from .publish import store_for
        return open_source("", store=store_for(obj.cfg))
    return open_source(obj.cfg.station.base_url if source == "public" else source)


@cli.command()
@click.argument("device_id")
@click.option("--quarter", metavar="YYYYQn", required=True, help="Quarter to load.")
@click.option("--to", "to", metavar="PATH", required=True, type=click.Path(path_type=Path),
              help="The card: its folder when mounted, or an unmounted FAT partition or image file.")
@click.option("--from", "source", metavar="SOURCE", default=None,
              help="Where to read: the configured store (default), 'public' for the station's base_url, or a "
                   "URL (https://..., file://..., s3://...).")
@click.option("--cache", metavar="DIR", type=click.Path(path_type=Path), default=None,
              help="Local audio cache (default: ~/.cache/dangke/audio).")
@click.option("--reassign", is_flag=True, help="Load a card that belongs to another device.")
@click.option("--readback", "readback", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where the card's play logs are kept before loading (default: the station's "
              "library/readback, else ~/.local/share/dangke/readback).")
@click.pass_obj
def card(obj: Context, device_id: str, quarter: str, to: Path, source: str | None, cache: Path | None,
         reassign: bool, readback: Path | None) -> None:
    """Load a device's quarterly playlist onto its card, in play order (its play logs
    are read back and stored first)."""
    from .card import cache_dir, load_card, quarter_text, read_published
    from .cardfs import open_card
    try:
        q = quarter_text(quarter)
    except ValueError as exc:
        raise UsageError(str(exc), fix="use e.g. --quarter 2027Q1") from exc
    src = _open_source(obj, source)
    target = open_card(to)
    verbs = {"remove": "removed", "keep": "kept   ", "copy": "copied "}

    def show(action: str, name: str, size: int) -> None:
        if action in verbs:
            say(f"  {verbs[action]} {name} ({size / 1e6:.1f} MB)")
    try:  # the station's time zone when there is a configuration, else the machine's
        now = dt.datetime.now(obj.cfg.tz)
    except ConfigError:
        now = dt.datetime.now().astimezone()
    back = _read_back_card(obj, target, device_id, readback, now)  # first: kept even if the store is down
    pub = read_published(src, device_id, q)
    report = load_card(pub, src, target, cache or cache_dir(), reassign=reassign, now=now, progress=show)
    if back.readback is not None:
        from .listens import clear_logs
        clear_logs(target, back.readback)
    if report.up_to_date and report.relabelled_from:
        say(f"card {report.device_id} {report.quarter} (generation {report.generation}) at {report.card}: "
            f"every file was in place already; deployment.json updated from {report.relabelled_from}")
        return
    if report.up_to_date:
        say(f"card {report.device_id} {report.quarter}: already up to date at {report.card} "
            f"(generation {report.generation})")
        return
    say(f"card {report.device_id} {report.quarter} (generation {report.generation}) at {report.card}: "
        f"{report.kept} kept, {report.copied} copied ({report.bytes_copied / 1e6:.1f} MB), {report.removed} removed"
        + (f", resumed after {report.resumed} file(s) already in place" if report.resumed else ""))


# -- listening: card read-backs and downloads (issue 15) ----------------------------------
def _read_back_card(obj: Context, target, device_id: str, root: Path | None, now: dt.datetime):
    """Store and verify what the device left on the card, and print what it played."""
    from .listens import default_readback_root, read_card, station_readback_root
    try:
        cfg = obj.cfg
    except ConfigError:
        cfg = None
    where = root or (station_readback_root(cfg.library) if cfg else default_readback_root())
    if cfg is not None:
        with obj.catalog() as cat:
            back = read_card(target, device_id, where, now.tzinfo, catalog=cat, now=now)
    else:
        back = read_card(target, device_id, where, now.tzinfo, now=now)
    say(_played_line(back))
    return back


def _played_line(back) -> str:
    """The crew's one line on what the device played last quarter."""
    rb, c = back.readback, back.listening
    if rb is None or c is None:
        return "played: nothing to read back (a new card, no deployment.json or play log)"
    head = f"played in {rb.quarter}" + (f" (loaded {rb.loaded_at[:10]})" if rb.loaded_at else "")
    again = "" if rb.new else " [read before; stored once]"
    cut = f"; {c.truncated + c.bad} unreadable line(s) left out" if c.truncated + c.bad else ""
    if c.kind == "none":
        opened = sum(1 for _n, _s, a in rb.listing if a and rb.loaded_at and a > rb.loaded_at[:10])
        seen = f"; {opened} of {len(rb.listing)} file(s) opened since loading (FAT access dates)" if opened else ""
        return f"{head}: the player keeps no play log, so plays are unknown{seen}{again}"
    if c.plays == 0:
        return f"{head}: no plays logged: the card came back unplayed{cut}{again}"
    when = f"; last play {c.last_play.date().isoformat()}" if c.last_play else \
        ("; no dates (the player has no clock)" if c.kind == "timeless" else "")
    rated = f", {c.listened} listened at least half, {c.skipped} skipped" if c.kind != "counter" else ""
    other = f", {c.unmatched} of other files" if c.unmatched else ""
    return (f"{head}: {c.plays} play(s) of {c.lessons_played} of {c.carried} lesson(s){rated}{other}; "
            f"{c.lessons_completed} played fully{when}{cut}{again}")


@cli.command()
@click.option("--logs", "logs", metavar="PATH|s3://...", multiple=True,
              help="Access logs to count downloads from: a file, a folder, or an s3:// prefix (S3 server access "
                   "logs; common/combined logs of an HTTP server or CDN). May be given more than once.")
@click.option("--cards", "cards", metavar="DIR", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="A folder of card read-backs to record (a crew's ~/.local/share/dangke/readback).")
@click.pass_obj
def listens(obj: Context, logs: tuple[str, ...], cards: tuple[Path, ...]) -> None:
    """Count downloads from access logs (IAB v2.1) and record card read-backs."""
    from .listens import import_readbacks, station_readback_root
    from .listens.downloads import count_downloads
    if not logs and not cards:
        raise UsageError("nothing to do", fix="give --logs PATH|s3://bucket/prefix and/or --cards DIR")
    cfg = obj.cfg
    with obj.catalog() as cat:
        for folder in (station_readback_root(cfg.library), *cards):
            r = import_readbacks(cat, folder, cfg.tz)
            if folder in cards or r.recorded:
                say(f"cards: {r.found} read-back(s) in {folder}, {r.recorded} newly recorded")
            for bad in r.broken:
                problem(f"card read-back {bad} is incomplete or damaged; read that card again")
                obj.fail()
        for spec in logs:
            store = None
            if spec.startswith("s3://"):
                from .publish.targets import open_store
                p = cfg.publish
                store = open_store(spec, cfg.root, endpoint_url=p.endpoint_url, region=p.region,
                                   addressing_style=p.addressing_style, timeout_s=p.timeout_s,
                                   retry_mode=p.retry_mode, max_attempts=p.max_attempts)
            elif not Path(spec).exists():
                raise UsageError(f"no access logs at {spec}", fix="give a log file, a folder or s3://bucket/prefix")
            r = count_downloads(cat, spec, cfg.tz, cfg.feeds.lesson_profile, store=store)
            outcomes = ", ".join(f"{n} {k}" for k, n in r.outcomes)
            say(f"downloads: {r.downloads} new from {r.lines} line(s) of {r.sources} log file(s) at {spec}"
                + (f" ({r.seen_before} counted before)" if r.seen_before else "")
                + (f"; requests: {outcomes}" if outcomes else ""))
            if r.unparsed:
                problem(f"downloads: {r.unparsed} line(s) of {spec} are in no known log format and were not "
                        "counted (S3 server access log, combined or common)")
            if r.closed_days:
                say(f"downloads: day(s) {', '.join(r.closed_days)} closed: their hashed clients are deleted")


@cli.command()
@click.pass_obj
def status(obj: Context) -> None:
    """What is where, what failed."""
    from .status import status_lines
    with obj.catalog() as cat:
        for line in status_lines(obj.cfg, cat):
            say(line)


# -- dangke gc (issue 12): library retention ------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def do_gc(obj: Context, dry_run: bool) -> None:
    from .gc import collect
    with obj.catalog() as cat:
        report = collect(obj.cfg, cat, dry_run=dry_run)
    by_kind: dict[str, list[int]] = {}
    for r in report.removed:
        by_kind.setdefault(r.kind, []).append(r.bytes)
    verb = "would remove" if dry_run else "removed"
    if report.finished:
        say(f"gc: finished {report.finished} removal(s) of an interrupted gc")
    for k, sizes in sorted(by_kind.items()):
        say(f"  {verb} {len(sizes)} {k} file(s), {_mb(sum(sizes))}")
    say(f"gc: {verb} {len(report.removed)} file(s), {report.reclaimed_bytes} bytes ({_mb(report.reclaimed_bytes)}) "
        f"reclaimed{' if run with --yes' if dry_run else ''}; kept {report.kept} rendition(s), "
        f"{_mb(report.kept_bytes)}; originals are never removed")


@cli.command()
@click.option("--yes", is_flag=True, help="Delete (without it: a dry run that lists what would go).")
@click.pass_obj
def gc(obj: Context, yes: bool) -> None:
    """Remove renditions and slot files no kept generation, quarter or pending plan needs."""
    do_gc(obj, dry_run=not yes)


# --- dangke playout (issue 13): a station's unattended playout with liquidsoap -------------
@cli.command()
@click.argument("channel")
@click.option("--from", "source", metavar="SOURCE", default=None,
              help="Where to read: the configured store (default), 'public' for the station's base_url, or a "
                   "URL (https://..., file://..., s3://...).")
@click.option("--cache", metavar="DIR", type=click.Path(path_type=Path), default=None,
              help="Local copy of the schedules and audio (default: ~/.cache/dangke/playout).")
@click.option("--output", "output", metavar="OUT", default="alsa", show_default=True,
              help="alsa, pulseaudio, icecast://HOST:PORT/MOUNT (password in $ICECAST_PASSWORD) or file:PATH.")
@click.option("--bed", metavar="FILE", default="", help="Audio looped between slots (default: silence).")
@click.option("--every", metavar="S", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
              help="Seconds between syncs with the store.")
@click.option("--reload", "reload_s", metavar="S", type=click.FloatRange(min=0.5), default=10.0,
              show_default=True, help="Seconds between liquidsoap's readings of the cue file.")
@click.option("--once", is_flag=True, help="Sync once and stop (for cron or a systemd timer).")
@click.option("--allow-root", is_flag=True, help="Let liquidsoap run as root (containers, tests).")
@click.pass_obj
def playout(obj: Context, channel: str, source: str | None, cache: Path | None, output: str, bed: str,
            every: float, reload_s: float, once: bool, allow_root: bool) -> None:
    """Write CHANNEL's liquidsoap script and keep its local schedule and audio in sync."""
    import time as _time
    from .fsutil import write_atomic
    from .playout import cache_root, sync
    from .playout_script import parse_output, station_script
    out = parse_output(output)
    src = _open_source(obj, source)
    root = (cache or cache_root()).absolute()
    folder = root / channel
    script = folder / "playout.liq"
    write_atomic(script, station_script(channel, str(folder / "cue.tsv"), out,
                                        str(Path(bed).absolute()) if bed else "", reload_s, allow_root).encode())
    say(f"playout {channel}: station script {script} (run: liquidsoap {script})")
    while True:
        report = sync(src, channel, root, dt.datetime.now(dt.timezone.utc))
        days = ", ".join(report.days) or "none"
        say(f"playout {channel}: {report.slots} slot(s) to air on {days}; {len(report.fetched)} day(s) and "
            f"{report.downloaded} audio file(s) fetched from {src.describe()}")
        if report.error:
            problem(f"playout {channel}: the store could not be read ({report.error}); "
                    "the last known schedule stays on air")
            obj.fail()
        if once:
            return
        _time.sleep(every)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    state = Context()
    try:
        cli.main(args=args, prog_name="dangke", standalone_mode=False, obj=state)
        return state.status
    except click.exceptions.Abort:
        problem("aborted")
        return 1
    except click.ClickException as exc:
        exc.show()
        return 2
    except (ConfigError, UsageError) as exc:
        problem(f"error: {exc}")
        if debug:
            traceback.print_exc()
        return 2
    except DangkeError as exc:
        problem(f"error: {exc}")
        if debug:
            traceback.print_exc()
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one clear line, traceback on --debug
        problem(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)")
        if debug:
            traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
