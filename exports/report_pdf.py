"""The province's quick report as an A4 PDF: the figures (exports/report_figures.py)
put into HTML by a Jinja template (templates/report/report.html, autoescaped: survey
text is text, never markup) and laid out by WeasyPrint.

Nothing is fetched while rendering: the only files WeasyPrint may read are the DejaVu
fonts of Debian's fonts-dejavu-core (every Vietnamese letter), embedded in the PDF;
any other address (http, a file elsewhere, data:) is refused and recorded, so a
hostile survey title cannot make the server reach out or read its own files.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2

from exports.report_figures import ReportFigures
from survey_engine.i18n import TRANSLATIONS_DIR, file_translations

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {"regular": FONT_DIR / "DejaVuSans.ttf", "bold": FONT_DIR / "DejaVuSans-Bold.ttf"}
# survey_engine/templates (a link to the top-level templates/, carried by the wheel)
TEMPLATES = TRANSLATIONS_DIR.parent / "templates" / "report"


@cache
def fonts_only() -> type:
    """WeasyPrint's URLFetcher made to read the report's own font files and nothing
    else; what it refused is kept in its `refused` (a test reads it). WeasyPrint is
    imported here, on the first report, not when the module is: it takes about a
    second to import, which every web node and worker would pay at start."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class FontsOnly(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.allowed = {path.resolve() for path in FONTS.values()}
            self.refused: list[str] = []

        def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
            parts = urlsplit(url)
            path = Path(unquote(parts.path)).resolve() if parts.scheme == "file" else None
            if path is None or parts.netloc or path not in self.allowed:
                self.refused.append(url)
                raise ValueError(f"the report fetches nothing but its fonts: refused {url[:200]!r}")
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": "font/ttf"})

    return FontsOnly


def missing_fonts() -> list[Path]:
    """The font files the report needs and this machine lacks (fonts-dejavu-core)."""
    return [path for path in FONTS.values() if not path.is_file()]


def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(file_translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def report_html(figures: ReportFigures) -> str:
    """The report as one HTML document (what WeasyPrint lays out)."""
    template = _environment(figures.lang).get_template("report.html")
    return template.render(
        report=figures,
        fonts={style: path.as_uri() for style, path in FONTS.items()},
    )


def write_report_pdf(path: Path, figures: ReportFigures) -> list[str]:
    """Write the PDF to `path`; returns the addresses refused while rendering (none
    for a sound report: anything there was asked for by text in the survey)."""
    missing = missing_fonts()
    if missing:
        raise RuntimeError(
            f"the report's fonts are missing ({', '.join(map(str, missing))}): "
            "install Debian's fonts-dejavu-core"
        )
    from weasyprint import HTML  # on the first report: see fonts_only()

    fetcher = fonts_only()()
    document = HTML(string=report_html(figures), url_fetcher=fetcher, base_url=str(TEMPLATES))
    document.write_pdf(path)
    return fetcher.refused
