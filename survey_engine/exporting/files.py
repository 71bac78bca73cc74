"""The lifecycle of an export file: asked for -> queued -> running -> done (downloadable
until it expires) or failed.

An export of 100,000 responses takes longer than a web request may, so it runs as an
RQ job in `survey-engine worker` (in inline mode, no REDIS_URL, in the request that
asked for it) and the staff page follows its row: rows_done moves as chunks are
written. The file is written under a temporary name and renamed when complete, so a
failed or killed job never leaves half a workbook to download.

Where the finished file is kept (EXPORT_STORAGE, recorded per export in its row):
- "folder": EXPORT_DIR. With several machines that must be one folder every worker
  and web node shares (NFS or the like): a worker writes, any web node sends.
- "database": the worker copies the file into export_file_chunks, CHUNK_BYTES a row, in
  the transaction that marks it done; any web node streams it from there one chunk at
  a time (one short query per chunk: a slow download holds neither a whole file in
  memory nor a database connection between chunks).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from rq.timeouts import JobTimeoutException
from werkzeug.datastructures import MultiDict

from survey_engine.catalog import definition_for, response_count
from survey_engine.chunks import stored_pieces
from survey_engine.exporting.report import REPORT_FORMAT, write_survey_report
from survey_engine.exporting.survey_file import (
    FILE_ENDINGS,
    ExportOptions,
    export_survey,
    site_address,
)
from survey_engine.exporting.survey_file import FORMATS as DATA_FORMATS
from survey_engine.extensions import db
from survey_engine.localtime import aware, to_local
from survey_engine.models import ExportChunk, ExportFile, ExportStatus, Survey, User, utcnow
from survey_engine.queue import enqueue
from survey_engine.redis_connections import REDIS_ERRORS
from survey_engine.results.filters import Filters
from survey_engine.staff import audit

log = logging.getLogger(__name__)

JOB_TIMEOUT = 60 * 60  # seconds RQ lets one export run (~25M rows at 7k rows/s)
PROGRESS_EVERY = 0.5  # seconds at least between two writes of rows_done
PREFIX = "export-"  # every file of the export folder, temporary ones too
STOPPED = "The export stopped without finishing (its worker was stopped or lost)."
CHUNK_BYTES = 1024 * 1024  # a database-stored export's piece: one row, one query
FOLDER, DATABASE = "folder", "database"
# What the export page makes: the data files, and the quick report (PDF).
FORMATS = (*DATA_FORMATS, REPORT_FORMAT)


def path_of(export: ExportFile) -> Path:
    return Path(current_app.config["EXPORT_DIR"]) / export.path


def download_name(export: ExportFile, survey: Survey) -> str:
    """`<slug>-<yyyymmdd-hhmm>.xlsx`, the time (Vietnam's) the export was asked for
    (.zip for the R export: the CSV and its script)."""
    ending = FILE_ENDINGS.get(export.fmt, export.fmt)
    return f"{survey.slug}-{to_local(export.created_at):%Y%m%d-%H%M}.{ending}"


def percent(export: ExportFile) -> int:
    if export.status == ExportStatus.DONE:
        return 100
    if not export.rows_total:
        return 0
    # Responses that arrive during the export are written too: never past 99 until done.
    return min(99, export.rows_done * 100 // export.rows_total)


def _keep() -> timedelta:
    return timedelta(hours=current_app.config["EXPORT_KEEP_HOURS"])


# -- asking --------------------------------------------------------------------------


def stored_options(options: ExportOptions) -> dict:
    return {
        "lang": options.lang,
        "codes": options.codes,
        "breakdown": options.breakdown,
        "filters": [list(pair) for pair in options.filters.to_args()],
        "asked_at": site_address(options.asked_at) or None,
    }


def start_export(survey: Survey, user: User, options: ExportOptions) -> ExportFile:
    """A row for the export, and its job queued (inline mode: run before returning)."""
    now = utcnow()
    export = ExportFile(
        survey_id=survey.id,
        requested_by_id=user.id,
        requested_by=user.email,
        created_at=now,
        status=ExportStatus.QUEUED,
        fmt=options.fmt,
        options=stored_options(options),
        rows_done=0,
        rows_total=0,
        path=f"{PREFIX}{secrets.token_hex(8)}.{FILE_ENDINGS.get(options.fmt, options.fmt)}",
        storage=current_app.config["EXPORT_STORAGE"],
        # A job still queued this long after is lost (or useless): expire_old ends it.
        expires_at=now + _keep(),
    )
    db.session.add(export)
    db.session.commit()
    try:
        enqueue("survey_engine.jobs.run_export_job", export.id, job_timeout=JOB_TIMEOUT)
    except REDIS_ERRORS as error:
        log.error("cannot queue export %s: %s", export.id, error)
        _finish(
            export,
            ExportStatus.FAILED,
            error=f"The job queue cannot be reached ({error}); try again later.",
        )
    db.session.refresh(export)  # inline mode: it has run
    return export


# -- running -------------------------------------------------------------------------


def _options(export: ExportFile, survey: Survey) -> ExportOptions:
    """The stored choices again; the filters are checked against today's definition."""
    stored = export.options or {}
    version = survey.published_version()
    if version is None:
        raise ValueError("the survey has no published version")
    filters = Filters.from_args(
        MultiDict([tuple(p) for p in stored.get("filters", [])]), definition_for(version)
    )
    return ExportOptions(
        fmt=export.fmt,
        lang=stored.get("lang"),
        filters=filters,
        codes=bool(stored.get("codes")),
        breakdown=stored.get("breakdown"),
        asked_at=stored.get("asked_at"),
    )


def save_progress(export_id: int, rows: int) -> None:
    """Commit rows_done at once, for the page that polls it, without ending the export's
    read of the responses: on PostgreSQL in a short transaction of its own (committing
    the export's would close its server-side cursor); on SQLite on the export's own
    connection, because SQLite locks the whole file: another connection could not
    commit while that read is open, but the reading connection itself may."""
    statement = sa.update(ExportFile).where(ExportFile.id == export_id).values(rows_done=rows)
    if db.engine.dialect.name == "sqlite":
        connection = db.session.connection()
        connection.execute(statement)
        connection.connection.commit()  # the pool's proxy of the DBAPI connection
    else:
        with db.engine.begin() as connection:
            connection.execute(statement)


def _progress(export_id: int) -> Callable[[int], None]:
    last = -PROGRESS_EVERY

    def report(rows: int) -> None:
        nonlocal last
        if time.monotonic() - last >= PROGRESS_EVERY:
            save_progress(export_id, rows)
            last = time.monotonic()

    return report


def _finish(export: ExportFile, status: str, now: datetime | None = None, **values) -> None:
    export.status = status
    export.finished_at = now or utcnow()
    for name, value in values.items():
        setattr(export, name, value)
    db.session.commit()


def _reason(error: BaseException) -> str:
    if isinstance(error, JobTimeoutException):
        return f"The export took longer than {JOB_TIMEOUT // 60} minutes and was stopped."
    text = (str(error).splitlines() or [""])[0][:500]
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__


def run_export(export_id: int) -> ExportFile | None:
    """Write the file of a queued export, counting rows as it goes; audit when done."""
    export = db.session.get(ExportFile, export_id)
    if export is None:
        return None
    survey = db.session.get(Survey, export.survey_id)
    if survey is None or export.status != ExportStatus.QUEUED:
        return export  # its survey was deleted, or it ran or expired already
    slug = survey.slug  # for the log, even once the session has lost its objects
    export.status, export.started_at = ExportStatus.RUNNING, utcnow()
    export.rows_total = response_count(survey.id)
    db.session.commit()
    final = path_of(export)
    partial = final.with_name(final.name + ".partial")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        options, progress = _options(export, survey), _progress(export_id)
        if export.fmt == REPORT_FORMAT:
            rows = write_survey_report(survey, partial, options, progress)
        else:
            rows = export_survey(survey, partial, options=options, progress=progress)
        size = partial.stat().st_size
        if export.storage == DATABASE:
            # Added to the session: committed with the row's "done" below, or not at all.
            _store_chunks(export_id, partial)
            partial.unlink()
        else:
            partial.replace(final)
        now = utcnow()
        _finish(
            export,
            ExportStatus.DONE,
            now,
            rows_done=rows,
            size=size,
            expires_at=now + _keep(),
        )
    except BaseException as error:
        db.session.rollback()
        partial.unlink(missing_ok=True)
        log.error("export %s of %s failed", export_id, slug, exc_info=error)
        # Should even this fail (database gone), fail_stale() ends the row later.
        _finish(export, ExportStatus.FAILED, error=_reason(error))
        if not isinstance(error, Exception):
            raise  # a worker being shut down: let it go
        return export
    requester = db.session.get(User, export.requested_by_id) if export.requested_by_id else None
    audit.record(
        "exported",
        survey,
        actor=requester,
        kind=f"responses.{export.fmt}",
        rows=rows,
        export=export.id,
    )
    return export


def _store_chunks(export_id: int, path: Path) -> None:
    """The file's bytes as ExportChunk rows, read and sent CHUNK_BYTES at a time."""
    with path.open("rb") as file:
        seq = 0
        while data := file.read(CHUNK_BYTES):
            db.session.execute(
                sa.insert(ExportChunk).values(export_id=export_id, seq=seq, data=data)
            )
            seq += 1


def stored_chunks(engine: sa.Engine, export_id: int) -> Iterator[bytes]:
    """A database-stored export's bytes, chunk by chunk, for a streamed download."""
    return stored_pieces(
        engine, ExportChunk.data, ExportChunk.export_id, ExportChunk.seq, export_id
    )


def _has_chunks(export_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(sa.literal(1)).where(ExportChunk.export_id == export_id, ExportChunk.seq == 0)
        )
        is not None
    )


def _delete_chunks(export_ids: sa.Select | list[int]) -> None:
    """In the session's transaction: the stored bytes of these exports (SQLite does not
    cascade the foreign key)."""
    db.session.execute(sa.delete(ExportChunk).where(ExportChunk.export_id.in_(export_ids)))


def delete_stored_of_survey(survey_id: int) -> None:
    """For deleting a survey, in its transaction: its exports' bytes in the database."""
    _delete_chunks(sa.select(ExportFile.id).where(ExportFile.survey_id == survey_id))


# -- keeping the list true -----------------------------------------------------------


def is_stale(export: ExportFile, now: datetime) -> bool:
    """A running export whose job cannot be running any more.

    RQ kills a job after JOB_TIMEOUT (run_export then records the failure), so a row
    still "running" after that lost its worker: kill -9, a machine lost, or the
    database unreachable when the failure was to be written. Its bar would otherwise
    wait for ever. (An inline export has no such limit; if one ever ran that long and
    then finished, it would still mark itself done.)"""
    return (
        export.status == ExportStatus.RUNNING
        and export.started_at is not None
        and aware(export.started_at) < now - timedelta(seconds=JOB_TIMEOUT + 60)
    )


def fail_stale(exports: list[ExportFile], now: datetime | None = None) -> None:
    now = now or utcnow()
    stale = [export for export in exports if is_stale(export, now)]
    for export in stale:
        export.status, export.finished_at, export.error = ExportStatus.FAILED, now, STOPPED
    if stale:
        db.session.commit()


def expire_old(now: datetime | None = None) -> int:
    """Delete the files whose time is up and mark their rows expired; then any file of
    the folder older than EXPORT_KEEP_HOURS that no row offers (a killed job's
    temporary file). Returns how many rows expired."""
    now = now or utcnow()
    running = db.session.scalars(
        sa.select(ExportFile).where(ExportFile.status == ExportStatus.RUNNING)
    ).all()
    fail_stale(list(running), now)
    due = db.session.scalars(
        sa.select(ExportFile).where(
            ExportFile.status.in_((ExportStatus.QUEUED, ExportStatus.DONE)),
            ExportFile.expires_at <= now,
        )
    ).all()
    for export in due:
        path_of(export).unlink(missing_ok=True)
        export.status = ExportStatus.EXPIRED
    if due:
        _delete_chunks([export.id for export in due])
        db.session.commit()
    _sweep(now)
    return len(due)


def _sweep(now: datetime) -> None:
    folder = Path(current_app.config["EXPORT_DIR"])
    if not folder.is_dir():
        return
    kept = db.session.scalars(
        sa.select(ExportFile.path).where(
            ExportFile.status.in_(ExportStatus.ACTIVE + (ExportStatus.DONE,))
        )
    ).all()
    offered = {name for path in kept for name in (path, path + ".partial")}
    cutoff = (now - _keep()).timestamp()
    for entry in folder.iterdir():
        if not entry.name.startswith(PREFIX) or entry.name in offered:
            continue
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
        except FileNotFoundError:
            pass  # another worker swept it first


def is_available(export: ExportFile, now: datetime | None = None) -> bool:
    """Done, not expired (even if expire_old has not run yet), and its file there
    (in the folder this node sees, or in the database)."""
    now = now or utcnow()
    return (
        export.status == ExportStatus.DONE
        and export.expires_at is not None
        and aware(export.expires_at) > now
        and (_has_chunks(export.id) if export.storage == DATABASE else path_of(export).is_file())
    )


def exports_of(survey: Survey, limit: int = 100) -> list[ExportFile]:
    """The survey's exports, newest first, after bringing them up to date."""
    expire_old()
    return list(
        db.session.scalars(
            sa.select(ExportFile)
            .where(ExportFile.survey_id == survey.id)
            .order_by(ExportFile.id.desc())
            .limit(limit)
        )
    )


def files_of_survey(survey_id: int) -> list[Path]:
    """For deleting a survey: its export files hold answers and must go with it."""
    return [
        Path(current_app.config["EXPORT_DIR"]) / name
        for name in db.session.scalars(
            sa.select(ExportFile.path).where(ExportFile.survey_id == survey_id)
        )
    ]
