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
from exports.columns import RowMaker
from exports.crosstab import CrosstabSheet
from exports.figures import WorkbookFigures
from exports.responses_sheet import ResponsesSheets
from exports.safe_cells import CutCount
from exports.sheet_xml import splice
from exports.summary import SummarySheet
from survey_engine.definition import Definition, Question

MAX_SHEET_NAME = 31  # Excel's limit

# The workbook's own words (not gettext: the export's language is the analyst's
# choice, not the interface's). A language without its own words gets English.
SHEET_NAMES = {
    "vi": {"summary": "Tổng hợp", "crosstab": "Bảng chéo", "responses": "Phiếu trả lời",
           "codebook": "Từ điển dữ liệu", "about": "Thông tin"},
    "en": {"summary": "Summary", "crosstab": "Cross-tab", "responses": "Responses",
           "codebook": "Codebook", "about": "About"},
}
SUMMARY_WORDS = {
    "vi": {
        "responses": "Số phiếu", "filters": "Bộ lọc", "no_filters": "Không lọc (tất cả phiếu)",
        "choice": "Phương án", "code": "Mã", "count": "Số lượng",
        "percent_answered": "% người trả lời", "percent_all": "% tổng số phiếu",
        "ci_low": "KTC 95% (thấp)", "ci_high": "KTC 95% (cao)",
        "answered": "Số người trả lời", "not_answered": "Không trả lời",
        "multiple_note": "Câu hỏi nhiều lựa chọn: tổng các tỷ lệ có thể vượt quá 100%.",
        "statistic": "Thống kê", "value": "Giá trị", "n": "Số người trả lời",
        "mean": "Trung bình", "median": "Trung vị", "q1": "Tứ phân vị thứ nhất (Q1)",
        "q3": "Tứ phân vị thứ ba (Q3)", "min": "Nhỏ nhất", "max": "Lớn nhất",
        "crosstab_title": "Bảng chéo theo", "total": "Tổng", "column_percent": "% theo cột",
        "no_answer": "(Không trả lời)",
        "codebook_name": "Tên cột", "codebook_label": "Nhãn", "codebook_type": "Loại",
        "codebook_required": "Bắt buộc", "codebook_choice_code": "Mã phương án",
        "codebook_choice_label": "Nhãn phương án",
        "codebook_relevant": "Điều kiện hiển thị (relevant)",
        "codebook_constraint": "Ràng buộc (constraint)",
        "codebook_choice_filter": "Lọc phương án (choice_filter)",
        "codebook_calculation": "Công thức (calculation)",
        "yes": "Có", "no": "Không",
        "flag_columns": "Một cột cho mỗi phương án: 1 = có chọn, 0 = không chọn",
        "meta_response_id": "Số thứ tự của phiếu trong cơ sở dữ liệu",
        "meta_submission_id": "Mã lần gửi do điện thoại tạo (một phiếu chỉ lưu một lần)",
        "meta_submitted_at": "Thời điểm gửi, giờ Việt Nam (Asia/Ho_Chi_Minh)",
        "meta_version": "Phiên bản bảng hỏi mà phiếu đã trả lời",
        "meta_source": "Kênh gửi phiếu (web, api, …)",
        "about_title": "Về tệp này", "about_survey": "Khảo sát",
        "about_slug": "Mã khảo sát (slug)", "about_versions": "Phiên bản (ngày xuất bản)",
        "about_exported": "Số phiếu đã xuất", "about_total": "Tổng số phiếu của khảo sát",
        "about_exported_at": "Thời điểm xuất (giờ Việt Nam)", "about_language": "Ngôn ngữ",
        "about_values": "Phương án ghi bằng", "about_labels": "nhãn", "about_codes": "mã",
        "about_breakdown": "Bảng chéo theo câu hỏi", "about_none": "(không có)",
        "about_sheets": "Trang phiếu trả lời", "about_requested_by": "Người xuất",
        "about_cut": "Số ô bị cắt (dài quá 32.767 ký tự, cuối ô ghi “{marker}”)",
    },
    "en": {
        "responses": "Responses", "filters": "Filters", "no_filters": "None (all responses)",
        "choice": "Choice", "code": "Code", "count": "Count",
        "percent_answered": "% of answered", "percent_all": "% of all responses",
        "ci_low": "95% CI (low)", "ci_high": "95% CI (high)",
        "answered": "Answered", "not_answered": "Not answered",
        "multiple_note": "Several choices allowed: the percentages can add up to more "
                         "than 100%.",
        "statistic": "Statistic", "value": "Value", "n": "Answered",
        "mean": "Mean", "median": "Median", "q1": "First quartile (Q1)",
        "q3": "Third quartile (Q3)", "min": "Minimum", "max": "Maximum",
        "crosstab_title": "Cross-tabulation by", "total": "Total",
        "column_percent": "Column %", "no_answer": "(No answer)",
        "codebook_name": "Column", "codebook_label": "Label", "codebook_type": "Type",
        "codebook_required": "Required", "codebook_choice_code": "Choice code",
        "codebook_choice_label": "Choice label",
        "codebook_relevant": "Shown when (relevant)",
        "codebook_constraint": "Check (constraint)",
        "codebook_choice_filter": "Choice filter (choice_filter)",
        "codebook_calculation": "Calculation (calculation)",
        "yes": "Yes", "no": "No",
        "flag_columns": "One column per choice: 1 = chosen, 0 = not chosen",
        "meta_response_id": "The response's number in the database",
        "meta_submission_id": "The id the phone gave the submission (stored once)",
        "meta_submitted_at": "Time submitted, Vietnam time (Asia/Ho_Chi_Minh)",
        "meta_version": "The version of the questionnaire answered",
        "meta_source": "How it was sent (web, api, …)",
        "about_title": "About this workbook", "about_survey": "Survey",
        "about_slug": "Slug", "about_versions": "Versions (published)",
        "about_exported": "Responses exported", "about_total": "All responses of the survey",
        "about_exported_at": "Exported at (Vietnam time)", "about_language": "Language",
        "about_values": "Choices written as", "about_labels": "labels",
        "about_codes": "codes",
        "about_breakdown": "Cross-tab by", "about_none": "(none)",
        "about_sheets": "Responses sheets", "about_requested_by": "Exported by",
        "about_cut": "Cells cut (longer than 32,767 characters, ending in “{marker}”)",
    },
}


def words_for(lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """(sheet names, words) in `lang`, else in English."""
    return SHEET_NAMES.get(lang, SHEET_NAMES["en"]), SUMMARY_WORDS.get(lang, SUMMARY_WORDS["en"])


def write_workbook(path: Path, definition: Definition, rows: RowMaker,
                   responses: Iterable[list[Any]], lang: str,
                   figures: Callable[[], WorkbookFigures],
                   breakdown: Question | None = None,
                   about: AboutFacts | None = None) -> int:
    """Write the workbook; `responses` yields chunks of stored responses, `figures()`
    the counts of those chunks once they are all read (by `breakdown` too, when given:
    then there is a cross-tab sheet). Returns the count. Without `about` (facts only the
    caller knows) there is no about sheet.

    XlsxWriter writes the workbook to a temporary file, the responses sheets' rows to
    files of their own (exports/sheet_xml.py); the two are spliced into `path`."""
    with tempfile.TemporaryDirectory(prefix="survey-export-") as tmp:
        book = Path(tmp) / "book.xlsx"
        data = _write_book(book, Path(tmp), definition, rows, responses, lang, figures,
                           breakdown, about)
        splice(book, path, data.sheets)
    return data.count


def _write_book(book: Path, tmp: Path, definition: Definition, rows: RowMaker,
                responses: Iterable[list[Any]], lang: str,
                figures: Callable[[], WorkbookFigures], breakdown: Question | None,
                about: AboutFacts | None) -> ResponsesSheets:
    names, words = words_for(lang)
    questions = rows.questions
    workbook = xlsxwriter.Workbook(str(book), {"constant_memory": True,
                                               "nan_inf_to_errors": True,
                                               "tmpdir": str(tmp)})
    try:
        formats, cuts = Formats(workbook), CutCount()

        def sheet(name: str) -> SafeSheet:
            return SafeSheet(workbook.add_worksheet(name[:MAX_SHEET_NAME]), formats, cuts)

        summary = SummarySheet(workbook, sheet(names["summary"]), definition, lang, words,
                               rows.choice_label)
        crosstab = None
        if breakdown is not None:
            crosstab = CrosstabSheet(sheet(f"{names['crosstab']} {breakdown.name}"),
                                     definition, lang, words, rows.choice_label,
                                     summary.series_title)
        data = ResponsesSheets(workbook, formats, cuts, rows, names["responses"], tmp)
        try:
            for chunk in responses:
                data.add(chunk)
        finally:
            data.close()
        counted = figures()
        filter_lines = about.filter_lines if about else []
        summary.write(counted, filter_lines)
        if crosstab is not None:
            crosstab.write(counted, filter_lines)
        CodebookSheet(sheet(names["codebook"]), definition, lang, words,
                      rows.choice_label).write(questions)
        if about is not None:
            write_about(sheet(names["about"]), about, words, data.count, data.names)
    finally:
        workbook.close()
    return data
