"""Formula injection: text that a spreadsheet would run must stay text.

A cell starting with = + - @ (or a tab / carriage return that hides them) becomes a
live formula in Excel and LibreOffice. In a workbook such text is written as a
string cell with Excel's quote prefix; in CSV it gets a leading apostrophe.
Numbers are never touched, so -5 stays a number.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_safe(value: object) -> object:
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value
