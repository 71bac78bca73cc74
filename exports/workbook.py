"""The .xlsx export: summary, cross-tab, responses, codebook and about sheets.

XlsxWriter's constant_memory mode flushes each row as it is written, and the
responses sheets' rows go to a file as text (exports/sheet_xml.py), so memory stays
flat however many responses there are. The responses stream through once: each chunk
is written to the responses sheet while the caller counts it; the summary and
cross-tab sheets are created first, so they open first, and filled in afterwards
from the figures the caller hands in then (`figures()`); codebook and about come last.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import xlsxwriter

from exports.about import AboutFacts, write_about
from exports.cells import Formats, SafeSheet
from exports.codebook import CodebookSheet
from exports.columns import RowMaker, roster_rows
from exports.crosstab import CrosstabSheet
from exports.figures import WorkbookFigures
from exports.responses_sheet import ResponsesSheets
from exports.safe_cells import CutCount
from exports.sheet_xml import splice
from exports.summary import SummarySheet
from survey_engine.definition import Definition, Question
from survey_engine.i18n import NP_, file_translations

MAX_SHEET_NAME = 31  # Excel's limit

# The workbook's own words, in the gettext catalogs like every other text (make
# translations; the Vietnamese is in vi/LC_MESSAGES/messages.po). Their contexts keep
# them apart from the interface's texts and a sheet's name from a cell's word ("Responses"
# is both). They are %-formats, as gettext's python-format checks want: % is written %%.
SHEET_NAMES = {
    "summary": NP_("workbook sheet", "Summary"),
    "crosstab": NP_("workbook sheet", "Cross-tab"),
    "responses": NP_("workbook sheet", "Responses"),
    "codebook": NP_("workbook sheet", "Codebook"),
    "about": NP_("workbook sheet", "About"),
}
SUMMARY_WORDS = {
    "responses": NP_("workbook", "Responses"),
    "filters": NP_("workbook", "Filters"),
    "no_filters": NP_("workbook", "None (all responses)"),
    "choice": NP_("workbook", "Choice"),
    "code": NP_("workbook", "Code"),
    "count": NP_("workbook", "Count"),
    "percent_answered": NP_("workbook", "%% of answered"),
    "percent_all": NP_("workbook", "%% of all responses"),
    "ci_low": NP_("workbook", "95%% CI (low)"),
    "ci_high": NP_("workbook", "95%% CI (high)"),
    "weighted_percent": NP_("workbook", "Weighted %% of answered"),
    "weighted_column_percent": NP_("workbook", "Weighted column %%"),
    "weighted_ci_low": NP_("workbook", "Weighted 95%% CI (low)"),
    "weighted_ci_high": NP_("workbook", "Weighted 95%% CI (high)"),
    "weighted_by": NP_("workbook", "Weighted to population margins of"),
    "effective_n": NP_("workbook", "Effective n (Kish)"),
    "answered": NP_("workbook", "Answered"),
    "not_answered": NP_("workbook", "Not answered"),
    "multiple_note": NP_(
        "workbook", "Several choices allowed: the percentages can add up to more than 100%%."
    ),
    "statistic": NP_("workbook", "Statistic"),
    "value": NP_("workbook", "Value"),
    "n": NP_("workbook", "Answered"),
    "mean": NP_("workbook", "Mean"),
    "weighted_mean": NP_("workbook", "Weighted mean"),
    "median": NP_("workbook", "Median"),
    "q1": NP_("workbook", "First quartile (Q1)"),
    "q3": NP_("workbook", "Third quartile (Q3)"),
    "min": NP_("workbook", "Minimum"),
    "max": NP_("workbook", "Maximum"),
    "crosstab_title": NP_("workbook", "Cross-tabulation by"),
    "total": NP_("workbook", "Total"),
    "column_percent": NP_("workbook", "Column %%"),
    "no_answer": NP_("workbook", "(No answer)"),
    "codebook_name": NP_("workbook", "Column"),
    "codebook_label": NP_("workbook", "Label"),
    "codebook_type": NP_("workbook", "Type"),
    "codebook_required": NP_("workbook", "Required"),
    "codebook_choice_code": NP_("workbook", "Choice code"),
    "codebook_choice_label": NP_("workbook", "Choice label"),
    "codebook_relevant": NP_("workbook", "Shown when (relevant)"),
    "codebook_constraint": NP_("workbook", "Check (constraint)"),
    "codebook_choice_filter": NP_("workbook", "Choice filter (choice_filter)"),
    "codebook_calculation": NP_("workbook", "Calculation (calculation)"),
    "codebook_variable": NP_("workbook", "Name in SPSS and Stata"),
    "yes": NP_("workbook", "Yes"),
    "no": NP_("workbook", "No"),
    "flag_columns": NP_("workbook", "One column per choice: 1 = chosen, 0 = not chosen"),
    "data_not_asked": NP_("workbook", "Not asked (skipped by the questionnaire's logic)"),
    "data_not_answered": NP_("workbook", "Not answered"),
    "data_chosen": NP_("workbook", "Chosen"),
    "data_not_chosen": NP_("workbook", "Not chosen"),
    "meta_response_id": NP_("workbook", "The response's number in the database"),
    "meta_submission_id": NP_("workbook", "The id the phone gave the submission (stored once)"),
    "meta_submitted_at": NP_("workbook", "Time submitted, Vietnam time (Asia/Ho_Chi_Minh)"),
    "meta_version": NP_("workbook", "The version of the questionnaire answered"),
    "meta_source": NP_("workbook", "How it was sent (web, api, …)"),
    "meta_status": NP_("workbook", "Review status: unreviewed, accepted, flagged or excluded"),
    "meta_flags": NP_("workbook", "Quality flags with their reasons (flag: reason; …)"),
    "meta_unit": NP_("workbook", "Unit of the access code's batch (closed mode)"),
    "meta_started_at": NP_(
        "workbook", "When the questionnaire was first shown, Vietnam time (paradata)"
    ),
    "meta_duration_seconds": NP_(
        "workbook", "Seconds from the first view to the submission (paradata)"
    ),
    "meta_pages_visited": NP_("workbook", "Pages of the questionnaire seen (paradata)"),
    "meta_device_class": NP_(
        "workbook", "Device: phone, tablet, desktop, bot or other, from the browser (paradata)"
    ),
    "meta_browser": NP_("workbook", "Browser family, e.g. Chrome, Safari, Zalo (paradata)"),
    "meta_network_key": NP_(
        "workbook",
        "Same network on the same day, same code; the address is not kept and cannot be "
        "recovered (paradata)",
    ),
    "meta_row": NP_(
        "workbook", "The row's number in its roster, from 1 (with response_id, the line's key)"
    ),
    "roster_counted": NP_(
        "workbook", "Counted over the rows of {roster}: {rows} rows in {responses} responses"
    ),
    "roster_sheet": NP_(
        "workbook",
        "A roster: a line per row on its own sheet and in its own file (response_id, row, "
        "then the columns below)",
    ),
    "meta_weight": NP_(
        "workbook", "Raking weight to the population margins (mean 1; blank: not weighted)"
    ),
    "meta_device_hash": NP_(
        "workbook", "Same browser, same code; says nothing about the person (paradata)"
    ),
    "about_title": NP_("workbook", "About this workbook"),
    "about_survey": NP_("workbook", "Survey"),
    "about_slug": NP_("workbook", "Slug"),
    "about_versions": NP_("workbook", "Versions (published)"),
    "about_exported": NP_("workbook", "Responses exported"),
    "about_total": NP_("workbook", "All responses of the survey"),
    "about_view": NP_("workbook", "Responses counted (review)"),
    "about_left_out": NP_("workbook", "Responses left out by the review"),
    "about_left_why": NP_("workbook", "Left out: why (status, flag)"),
    "about_exported_at": NP_("workbook", "Exported at (Vietnam time)"),
    "about_language": NP_("workbook", "Language"),
    "about_values": NP_("workbook", "Choices written as"),
    "about_labels": NP_("workbook", "labels"),
    "about_codes": NP_("workbook", "codes"),
    "about_breakdown": NP_("workbook", "Cross-tab by"),
    "about_none": NP_("workbook", "(none)"),
    "about_sheets": NP_("workbook", "Responses sheets"),
    "about_requested_by": NP_("workbook", "Exported by"),
    "about_paradata": NP_("workbook", "Paradata (how each response was given)"),
    "about_paradata_none": NP_("workbook", "None kept: the survey is anonymous"),
    "about_paradata_kept": NP_(
        "workbook", "Erased {days} days after the survey closes (then the cells are empty)"
    ),
    "about_cut": NP_("workbook", "Cells cut (longer than 32,767 characters, ending in “{marker}”)"),
}


def words_for(lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """(sheet names, words) in the export's language, the analyst's choice rather than the
    interface's; English for a language without a catalog."""
    catalog = file_translations(lang)
    return (
        {key: catalog.pgettext(*text) % {} for key, text in SHEET_NAMES.items()},
        {key: catalog.pgettext(*text) % {} for key, text in SUMMARY_WORDS.items()},
    )


def write_workbook(
    path: Path,
    definition: Definition,
    rows: RowMaker,
    responses: Iterable[list[Any]],
    lang: str,
    figures: Callable[[], WorkbookFigures],
    breakdown: Question | None = None,
    about: AboutFacts | None = None,
) -> int:
    """Write the workbook; `responses` yields chunks of stored responses, `figures()`
    the counts of those chunks once they are all read (by `breakdown` too, when given:
    then there is a cross-tab sheet). Returns the count. Without `about` (facts only the
    caller knows) there is no about sheet.

    XlsxWriter writes the workbook to a temporary file, the responses sheets' rows to
    files of their own (exports/sheet_xml.py); the two are spliced into `path`."""
    with tempfile.TemporaryDirectory(prefix="survey-export-") as tmp:
        book = Path(tmp) / "book.xlsx"
        data = _write_book(
            book, Path(tmp), definition, rows, responses, lang, figures, breakdown, about
        )
        splice(book, path, data.sheets)
    return data.count


def _write_book(
    book: Path,
    tmp: Path,
    definition: Definition,
    rows: RowMaker,
    responses: Iterable[list[Any]],
    lang: str,
    figures: Callable[[], WorkbookFigures],
    breakdown: Question | None,
    about: AboutFacts | None,
) -> ResponsesSheets:
    names, words = words_for(lang)
    questions = rows.questions
    workbook = xlsxwriter.Workbook(
        str(book), {"constant_memory": True, "nan_inf_to_errors": True, "tmpdir": str(tmp)}
    )
    try:
        formats, cuts = Formats(workbook), CutCount()

        def sheet(name: str) -> SafeSheet:
            return SafeSheet(workbook.add_worksheet(name[:MAX_SHEET_NAME]), formats, cuts)

        summary = SummarySheet(
            workbook, sheet(names["summary"]), definition, lang, words, rows.choice_label
        )
        crosstab = None
        if breakdown is not None:
            crosstab = CrosstabSheet(
                sheet(f"{names['crosstab']} {breakdown.name}"),
                definition,
                lang,
                words,
                rows.choice_label,
                summary.series_title,
            )
        data = ResponsesSheets(workbook, formats, cuts, rows, names["responses"], tmp)
        # A roster's sheet: a line per row, written as its responses go by.
        rosters = [
            (roster, ResponsesSheets(workbook, formats, cuts, roster, name, tmp, f"roster-{n}"))
            for n, (roster, name) in enumerate(
                zip(roster_rows(rows), roster_sheet_names(rows, names), strict=True)
            )
        ]
        try:
            for chunk in responses:
                data.add(chunk)
                for roster, sheets in rosters:
                    sheets.add(roster.lines(chunk))
        finally:
            data.close()
            for _roster, sheets in rosters:
                sheets.close()
        counted = figures()
        filter_lines = about.filter_lines if about else []
        summary.write(counted, filter_lines)
        if crosstab is not None:
            crosstab.write(counted, filter_lines)
        CodebookSheet(sheet(names["codebook"]), definition, lang, words, rows.choice_label).write(
            questions, weighted=rows.weight_of is not None
        )
        if about is not None:
            write_about(
                sheet(names["about"]),
                about,
                words,
                data.count,
                data.names + [name for _roster, sheets in rosters for name in sheets.names],
            )
    finally:
        workbook.close()
    data.sheets += [part for _roster, sheets in rosters for part in sheets.sheets]
    return data


def roster_sheet_names(rows: RowMaker, names: dict[str, str]) -> list[str]:
    """A roster's sheet is named after it ("members"), unless that is a name the
    workbook already has (Excel compares them without case): then "members (rows)"."""
    taken = {name.lower() for name in names.values()}
    out = []
    for q in rows.questions:
        if not q.is_repeat:
            continue
        name = q.name[: MAX_SHEET_NAME - 8]  # room for " (2)", the next sheet's
        if name.lower() in taken:
            name = f"{name} (rows)"
        taken.add(name.lower())
        out.append(name)
    return out
