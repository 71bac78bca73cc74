"""An uploaded .xlsx before openpyxl reads it: what reading it may cost, and no DTD.

Why a module of its own: these checks read only the zip directory and the raw parts,
and every limit here is part of the documented contract (docs/survey-format.md).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from survey_engine.definition.problems import N_, Count, Problem, problem

# What reading one uploaded workbook may cost (docs/survey-format.md, "Limits"). A real
# XLSForm, even with every commune of Viet Nam in a choice list, stays far below them;
# a zip bomb of 300 KB inflating to 100 MB took 40 s and 1.17 GB before.
MAX_FILE_BYTES = 8 * 1024 * 1024  # the .xlsx file (the web upload: ADMIN_UPLOAD_MAX_BYTES)
MAX_UNCOMPRESSED_BYTES = 32 * 1024 * 1024  # all parts together, as the zip directory says
MAX_COMPRESSION_RATIO = 100  # per part of more than RATIO_CHECKED_ABOVE bytes
RATIO_CHECKED_ABOVE = 1024 * 1024
MAX_PARTS = 1000  # files inside the zip
# An XML part declaring a DTD can define entities (billion laughs, external files):
# no spreadsheet program writes one, so any is refused before a parser sees it.
_DOCTYPE_MARKS = tuple("<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))
_SCAN_CHUNK = 1024 * 1024


class XLSFormInvalid(ValueError):
    """The workbook cannot become a definition; `problems` lists the first
    MAX_LISTED_PROBLEMS reasons (definition/problems.py), `total` counts them all."""

    def __init__(self, problems: list[str], total: int | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.total = max(total or 0, len(problems))


def check_package(path: Path) -> None:
    """Refuses a file whose reading would cost too much, or that holds a DTD, before
    openpyxl reads anything: the sizes come from the zip directory, which also bounds
    what zipfile will inflate (a part longer than it says fails its check)."""
    too_big(path.stat().st_size)
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
            if len(parts) > MAX_PARTS:
                raise XLSFormInvalid(
                    [
                        problem(
                            N_(
                                "the workbook holds %(count)s files; at most %(limit)s are accepted"
                            ),
                            count=Count(len(parts)),
                            limit=Count(MAX_PARTS),
                        )
                    ]
                )
            total = sum(part.file_size for part in parts)
            if total > MAX_UNCOMPRESSED_BYTES:
                raise XLSFormInvalid(
                    [
                        problem(
                            N_(
                                "the workbook unpacks to %(size)s bytes; at most %(limit)s are "
                                "accepted"
                            ),
                            size=Count(total),
                            limit=Count(MAX_UNCOMPRESSED_BYTES),
                        )
                    ]
                )
            for part in parts:
                ratio = part.file_size / max(part.compress_size, 1)
                if part.file_size > RATIO_CHECKED_ABOVE and ratio > MAX_COMPRESSION_RATIO:
                    raise XLSFormInvalid(
                        [
                            Problem.of(
                                part.filename,
                                N_(
                                    "compressed %(ratio)s to 1; at most %(limit)s to 1 is "
                                    "accepted (a zip bomb?)"
                                ),
                                {"ratio": f"{ratio:,.0f}", "limit": MAX_COMPRESSION_RATIO},
                            )
                        ]
                    )
            for part in parts:
                if _declares_dtd(package, part):
                    raise XLSFormInvalid(
                        [
                            Problem.of(
                                part.filename,
                                N_(
                                    "the XML declares a DOCTYPE (entities); "
                                    "spreadsheet programs never write one, so it is refused"
                                ),
                            )
                        ]
                    )
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        EOFError,
        RuntimeError,
    ) as error:
        raise not_a_workbook(".xlsx", error) from None


def not_a_workbook(kind: str, error: Exception, known: Problem | None = None) -> XLSFormInvalid:
    """The file is no workbook of `kind` (.xlsx, .xls). Why, in our words for the
    commonest case (`known`, or a file that is no zip package at all), else in the
    reading library's own (English) words."""
    if known is None and isinstance(error, zipfile.BadZipFile):
        known = problem(N_("the file is no zip package, as every .xlsx is"))
    return XLSFormInvalid(
        [
            problem(
                N_("not an XLSForm workbook (%(kind)s): %(error)s"),
                kind=kind,
                error=known or str(error),
            )
        ]
    )


def too_big(size: int) -> None:
    """Refuses a workbook file of more than MAX_FILE_BYTES."""
    if size > MAX_FILE_BYTES:
        raise XLSFormInvalid(
            [
                problem(
                    N_("the file is %(size)s bytes; at most %(limit)s are accepted"),
                    size=Count(size),
                    limit=Count(MAX_FILE_BYTES),
                )
            ]
        )


def _declares_dtd(package: zipfile.ZipFile, part: zipfile.ZipInfo) -> bool:
    """Whether '<!DOCTYPE' appears in the part (as UTF-8 or UTF-16), read in chunks."""
    tail = b""
    with package.open(part) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            window = tail + chunk
            if any(mark in window for mark in _DOCTYPE_MARKS):
                return True
            tail = window[-32:]
    return False
