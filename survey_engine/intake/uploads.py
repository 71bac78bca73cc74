"""Citizens' files for image, audio, video and file questions: checked, stored, found.

Why a file is stored before its answers: every submission passes through the Redis
stream (intake/buffer.py), which holds the pending ones in memory; a 5 MB photo in each
would fill it in the first burst. So a file travels on its own request (the upload
route of the API, which the page's script calls as soon as a file is chosen, or the
form's multipart POST without JavaScript, which stores its files first) into the
database (uploads, upload_chunks: any web node reads them, no shared folder), and the
answer carries only the upload's token, 43 characters. On submit, check_tokens() makes
sure every token is an upload of this survey and question (docs/uploads.md).

A file is what its first bytes say (filetype's signatures), never what its name or the
browser's Content-Type claim: an HTML page renamed photo.jpg is refused, and the staff
download is sent with the type found here.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO

import filetype
import sqlalchemy as sa

from survey_engine.chunks import stored_pieces
from survey_engine.definition import Definition, Question
from survey_engine.definition.families import FILE
from survey_engine.extensions import db
from survey_engine.i18n import message
from survey_engine.intake.image_metadata import STRIPPED_KINDS, BadImage, strip_metadata
from survey_engine.models import Response, Upload, UploadChunk

# What each question type takes, by filetype's extension names. No SVG or HTML (they
# carry script), no executables or archives. Phones' own formats are in: HEIC photos,
# AMR and M4A voice notes, 3GP and MOV videos; WebM is what a browser records.
ACCEPTED: dict[str, tuple[str, ...]] = {
    "image": ("jpg", "png", "gif", "webp", "heic", "avif"),
    "audio": ("mp3", "m4a", "mp4", "ogg", "wav", "amr", "aac", "flac", "webm"),
    "video": ("mp4", "mov", "3gp", "m4v", "webm", "mkv"),
    "file": ("pdf", "jpg", "png", "heic", "webp", "docx", "xlsx", "pptx", "odt", "ods", "odp"),
}
# The browser's file picker hint (<input accept>); the server decides by content.
PICKER: dict[str, str] = {
    "image": "image/*",
    "audio": "audio/*",
    "video": "video/*",
    "file": ".pdf,.jpg,.jpeg,.png,.heic,.webp,.docx,.xlsx,.pptx,.odt,.ods,.odp",
}
# filetype reads this many first bytes (its own _NUM_SIGNATURE_BYTES).
HEAD_BYTES = 8192
# One upload_chunks row: one query per MiB written or read.
UPLOAD_CHUNK_BYTES = 1024 * 1024
MEBIBYTE = 1024 * 1024
assert set(ACCEPTED) == FILE == set(PICKER)


class UploadRefused(Exception):
    """Why a file is not stored: a message key, its values, the HTTP status to answer."""

    def __init__(self, key: str, status: int, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.status = status
        self.values = values

    def text(self, lang: str) -> str:
        return message(self.key, lang, **self.values)


def new_token() -> str:
    """43 URL-safe characters (256 random bits): definition UPLOAD_TOKEN_RE's shape."""
    return secrets.token_urlsafe(32)


def shown_megabytes(max_bytes: int) -> str:
    """10485760 -> "10"; 1572864 -> "1,5" (a Vietnamese decimal comma)."""
    value = max_bytes / MEBIBYTE
    return str(int(value)) if value.is_integer() else f"{value:.1f}".replace(".", ",")


def store(survey_id: int, question: Question, stream: IO[bytes], max_bytes: int) -> Upload:
    """Check and store one file for `question`; raises UploadRefused (nothing stored).

    Read in UPLOAD_CHUNK_BYTES pieces, each written as it comes, so a file over
    `max_bytes` costs at most one piece more than the limit; committed at the end."""
    if question.type not in FILE:
        raise UploadRefused("upload_unknown", 404)
    head = stream.read(HEAD_BYTES)
    if not head:
        raise UploadRefused("upload_empty", 422)
    kind = filetype.guess(head)
    accepted = ACCEPTED[question.type]
    if kind is None or kind.extension not in accepted:
        raise UploadRefused("upload_wrong_type", 415, kinds=", ".join(accepted))
    if kind.extension in STRIPPED_KINDS:
        head, stream = _without_metadata(kind.extension, head, stream, max_bytes, accepted)
    upload = Upload(
        token=new_token(),
        survey_id=survey_id,
        question=question.name,
        extension=kind.extension,
        content_type=kind.mime,
        size=0,
        sha256="",
    )
    db.session.add(upload)
    db.session.flush()
    digest = hashlib.sha256()
    size, seq, piece = 0, 0, head + stream.read(UPLOAD_CHUNK_BYTES - len(head))
    try:
        while piece:
            size += len(piece)
            if size > max_bytes:
                raise UploadRefused("upload_too_large", 413, limit=shown_megabytes(max_bytes))
            digest.update(piece)
            db.session.add(UploadChunk(upload_id=upload.id, seq=seq, data=piece))
            db.session.flush()  # one row at a time: the session holds no more than a piece
            seq += 1
            piece = stream.read(UPLOAD_CHUNK_BYTES)
    except BaseException:
        db.session.rollback()
        raise
    upload.size, upload.sha256 = size, digest.hexdigest()
    db.session.commit()
    return upload


def _without_metadata(
    extension: str, head: bytes, stream: IO[bytes], max_bytes: int, accepted: tuple[str, ...]
) -> tuple[bytes, IO[bytes]]:
    """A photo read whole (at most `max_bytes`, as any file) and its metadata removed
    (image_metadata.py: no GPS position kept by accident); its new first bytes and the
    rest to store. A file that only starts like an image is refused as a wrong type."""
    data = head + stream.read(max_bytes + 1 - len(head))
    if len(data) > max_bytes:
        raise UploadRefused("upload_too_large", 413, limit=shown_megabytes(max_bytes))
    try:
        cleaned = strip_metadata(extension, data)
    except BadImage:
        raise UploadRefused("upload_wrong_type", 415, kinds=", ".join(accepted)) from None
    return cleaned[:HEAD_BYTES], io.BytesIO(cleaned[HEAD_BYTES:])


def check_tokens(survey_id: int, d: Definition, answers: dict, lang: str) -> dict[str, str]:
    """A message for each file question whose answer names no upload of this survey
    and question (made up, another survey's, or another question's). One query, and
    none for a definition without file questions."""
    wanted = {q.name: answers[q.name] for q in d.file_questions if q.name in answers}
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(Upload.token, Upload.question).where(
            Upload.survey_id == survey_id, Upload.token.in_(set(wanted.values()))
        )
    )
    found = {token: question for token, question in rows}
    return {
        name: message("upload_unknown", lang)
        for name, token in wanted.items()
        if found.get(token) != name
    }


def find_upload(survey_id: int, token: str) -> Upload | None:
    return db.session.scalar(
        sa.select(Upload).where(Upload.survey_id == survey_id, Upload.token == token)
    )


def delete_of_survey(survey_id: int) -> None:
    """A deleted survey's files, in the caller's transaction (SQLite does not cascade)."""
    ids = sa.select(Upload.id).where(Upload.survey_id == survey_id).scalar_subquery()
    db.session.execute(sa.delete(UploadChunk).where(UploadChunk.upload_id.in_(ids)))
    db.session.execute(sa.delete(Upload).where(Upload.survey_id == survey_id))


def upload_bytes(engine: sa.Engine, upload_id: int) -> Iterator[bytes]:
    """The file's pieces in order, for a streamed download (chunks.py)."""
    return stored_pieces(
        engine, UploadChunk.data, UploadChunk.upload_id, UploadChunk.seq, upload_id
    )


# An upload no response names after this long was given up (the page sends the file
# when it is chosen; a citizen who then leaves never submits): purge_unused deletes it.
UNUSED_UPLOAD_HOURS = 24
# Responses' answers read at a time while looking for the tokens still in use.
PURGE_READ_ROWS = 5000


def purge_unused(hours: int = UNUSED_UPLOAD_HOURS, dry_run: bool = False) -> int:
    """Delete the uploads older than `hours` that no stored response names (their
    chunks go with them); returns how many. Only the file questions' answers of the
    surveys that have such uploads are read, PURGE_READ_ROWS at a time. A submission
    still waiting in the Redis stream names an upload younger than `hours` (the stream
    is drained in seconds), so it is never taken from under it."""
    cutoff = datetime.now(UTC) - timedelta(hours=hours)
    old = db.session.execute(
        sa.select(Upload.id, Upload.survey_id, Upload.question, Upload.token).where(
            Upload.created_at < cutoff
        )
    ).all()
    by_survey: dict[int, list] = {}
    for row in old:
        by_survey.setdefault(row.survey_id, []).append(row)
    unused: list[int] = []
    for survey_id, rows in by_survey.items():
        used = _tokens_in_answers(survey_id, {row.question for row in rows})
        unused += [row.id for row in rows if row.token not in used]
    if unused and not dry_run:
        for start in range(0, len(unused), PURGE_READ_ROWS):
            part = unused[start : start + PURGE_READ_ROWS]
            db.session.execute(sa.delete(UploadChunk).where(UploadChunk.upload_id.in_(part)))
            db.session.execute(sa.delete(Upload).where(Upload.id.in_(part)))
        db.session.commit()
    return len(unused)


def _tokens_in_answers(survey_id: int, questions: set[str]) -> set[str]:
    """The answers to `questions` (file questions: tokens) in the survey's responses."""
    columns = [Response.answers[name].as_string() for name in sorted(questions)]
    used: set[str] = set()
    last = 0
    while True:
        rows = db.session.execute(
            sa.select(Response.id, *columns)
            .where(Response.survey_id == survey_id, Response.id > last)
            .order_by(Response.id)
            .limit(PURGE_READ_ROWS)
        ).all()
        if not rows:
            return used
        for row in rows:
            used.update(value for value in row[1:] if value)
        last = rows[-1][0]
