"""The ``dangke`` command line (click). Thin: parse options, call one stage, print.

Exit status: 0 success; 1 some inputs were rejected or some work failed (the rest is
still done); 2 bad usage or configuration. One clear line per problem; tracebacks only
with ``--debug``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import traceback
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
        return Quarter.parse(text)
    except ValueError as exc:
        raise UsageError(str(exc), fix="use e.g. --quarter 2027Q1") from exc


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
    if (src / "assets").is_dir():
        shutil.copytree(src / "assets", directory / "assets", dirs_exist_ok=True)
    for sub in ("inbox", "library", "rejected"):
        (directory / sub).mkdir(exist_ok=True)
    say(f"Created station in {directory}")
    say(f"  configuration: {directory / 'dangke.toml'}")
    say(f"  drop recordings into: {directory / 'inbox'}")
    say(f"  then run: dangke --config {directory / 'dangke.toml'} run")


def _print_ingest(obj: Context, report) -> None:
    for a in report.accepted:
        say(f"accepted  {a.name} -> {a.lesson_id} v{a.version} [{a.category}, {a.dialect}, "
            f"{a.duration_s:.1f} s] {a.title}")
        for w in a.warnings:
            say(f"  warning: {w}")
    for d in report.duplicates:
        say(f"duplicate {d.name}: {d.note}")
    for r in report.rejected:
        problem(f"rejected  {r.name}: {r.reason} / {r.reason_zh} (see rejected/{r.name}.reason.txt)")
    for w in report.waiting:
        say(f"waiting   {w} (still being written, or a sidecar without its audio)")
    say(f"ingest: {len(report.accepted)} accepted, {len(report.duplicates)} duplicate(s), "
        f"{len(report.rejected)} rejected, {len(report.waiting)} waiting")
    if report.failed:
        obj.fail()


def do_ingest(obj: Context) -> None:
    from .ingest import ingest_pass
    with obj.catalog() as cat:
        _print_ingest(obj, ingest_pass(obj.cfg, cat))


def do_encode(obj: Context) -> None:
    from .encode import encode_all
    with obj.catalog() as cat:
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


def do_plan(obj: Context, quarter: Quarter) -> None:
    from .plan import run_plan
    with obj.catalog() as cat:
        report = run_plan(obj.cfg, cat, quarter)
    for p in report.problems:
        problem(f"not planned: {p.message}")
    say(f"plan {report.quarter}: {report.planned} of {report.devices} device(s) planned, "
        f"{len(report.problems)} with problems, {report.written} file(s) written")
    if report.failed:
        obj.fail()


def do_schedule(obj: Context, first: dt.date, days: int) -> None:
    from .schedule import run_schedule
    if days < 1:
        raise UsageError("--days must be at least 1")
    with obj.catalog() as cat:
        report = run_schedule(obj.cfg, cat, first, days)
    for n in report.notes:
        say(f"note: {n}")
    for p in report.problems:
        problem(f"schedule problem: {p}")
    channels = sorted({d.channel for d in report.days})
    say(f"schedule: {len(report.days)} channel-day(s) from {first} ({days} day(s)) for {', '.join(channels) or 'no channel'}")
    if report.failed:
        obj.fail()


def do_publish(obj: Context, dry_run: bool) -> None:
    from .publish import publish
    with obj.catalog() as cat:
        report = publish(obj.cfg, cat, dry_run=dry_run)
    if dry_run:
        for key, size in report.uploads:
            say(f"would upload {key} ({size} bytes)")
        say(f"publish (dry run): {len(report.uploads)} object(s), {report.uploaded_bytes} bytes to "
            f"{report.store}")
    elif report.generation is None:
        say(f"publish: nothing changed; {report.store} is up to date")
    else:
        say(f"publish: generation {report.generation} at {report.store}: {len(report.uploads)} object(s) "
            f"uploaded ({report.uploaded_bytes} bytes), {report.unchanged} unchanged")


@cli.command()
@click.pass_obj
def ingest(obj: Context) -> None:
    """One pass over the inbox."""
    do_ingest(obj)


@cli.command()
@click.option("--poll", "poll_s", type=float, default=5.0, show_default=True,
              help="Also scan the inbox this often (seconds), for shares without file events.")
@click.pass_obj
def watch(obj: Context, poll_s: float) -> None:
    """Ingest continuously as files arrive (Ctrl-C stops)."""
    from .watch import watch_inbox
    say(f"watching {obj.cfg.inbox} (Ctrl-C to stop)")
    with obj.catalog() as cat:
        try:
            watch_inbox(obj.cfg, cat, poll_s, on_report=lambda r: _print_ingest(obj, r))
        except KeyboardInterrupt:
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
@click.option("--days", type=int, default=1, show_default=True, help="Number of days.")
@click.pass_obj
def schedule(obj: Context, date: str | None, days: int) -> None:
    """Daily broadcast schedules."""
    do_schedule(obj, _date(date, obj.cfg), days)


@cli.command()
@click.option("--dry-run", is_flag=True, help="List what would be uploaded, upload nothing.")
@click.pass_obj
def publish(obj: Context, dry_run: bool) -> None:
    """Push to the configured store, feeds and index last."""
    do_publish(obj, dry_run)


@cli.command()
@click.option("--quarter", metavar="YYYYQn", help="Quarter to plan (default: the next quarter).")
@click.option("--date", "date", metavar="YYYY-MM-DD", help="First broadcast day (default: today).")
@click.option("--days", type=int, default=7, show_default=True, help="Broadcast days to schedule.")
@click.pass_obj
def run(obj: Context, quarter: str | None, date: str | None, days: int) -> None:
    """All stages in order: ingest, encode, plan, schedule, publish."""
    q, first = _quarter(quarter, obj.cfg), _date(date, obj.cfg)
    do_ingest(obj)
    do_encode(obj)
    do_plan(obj, q)
    do_schedule(obj, first, days)
    do_publish(obj, dry_run=False)


@cli.command()
@click.pass_obj
def status(obj: Context) -> None:
    """What is where, what failed."""
    from .status import status_lines
    with obj.catalog() as cat:
        for line in status_lines(obj.cfg, cat):
            say(line)


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
