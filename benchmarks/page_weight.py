#!/usr/bin/env python3
"""What a citizen's phone downloads to open the demo questionnaire, measured in Chromium.

    .venv/bin/python benchmarks/page_weight.py        (or: make page-weight)

Serves the demo (SQLite, `survey-engine serve`), opens /s/tro-lai-truong-hoc in
headless Chromium at 360x740, records every request the page makes, and gzips each
body (level 6, what nginx or a CDN sends) to report the transfer size. It checks
that nothing is fetched from another origin and that no web font is loaded, and
prints the engine's own weight (HTML scaffolding, CSS, JS: the survey's own text
aside) beside the published library weights of SurveyJS and Formbricks.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_server  # noqa: E402

SLUG = "tro-lai-truong-hoc"
BUDGET_KB = 30.0
# Published figures: JavaScript libraries a respondent downloads before the survey.
OTHERS = {"SurveyJS (library)": 415.0, "Formbricks (library)": 260.0}


def gz(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=6))


def survey_text_bytes(page) -> int:
    """gzip size of the survey's own words on the page, to set them aside."""
    text = page.evaluate("""() => [...document.querySelectorAll(
        'h1, .description, .q-label, legend, .hint, .note, .choice span, option, '
        + '.matrix-head span, .rank-item label, h2')].map(e => e.textContent).join('\\n')""")
    return gz(text.encode())


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/weight.sqlite3"
        with (
            demo_server(database, Path(tmp) / "serve.log") as base,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(
                viewport={"width": 360, "height": 740}, locale="vi-VN", is_mobile=True
            ).new_page()
            responses = []
            page.on("response", lambda response: responses.append(response))
            page.goto(f"{base}/s/{SLUG}", wait_until="networkidle")
            rows = []
            for response in responses:
                body = response.body()
                rows.append(
                    {
                        "url": response.url,
                        "type": response.request.resource_type,
                        "raw": len(body),
                        "gzip": gz(body),
                    }
                )
            text = survey_text_bytes(page)
            browser.close()
    origin = urlsplit(base).netloc
    return {
        "rows": rows,
        "survey_text_gzip": text,
        "third_party": [r["url"] for r in rows if urlsplit(r["url"]).netloc != origin],
        "fonts": [r["url"] for r in rows if r["type"] == "font"],
    }


def main() -> int:
    result = measure()
    print(f"{'resource':<52} {'type':<10} {'raw B':>8} {'gzip B':>8}")
    for row in result["rows"]:
        print(f"{urlsplit(row['url']).path:<52} {row['type']:<10} {row['raw']:>8} {row['gzip']:>8}")
    total = sum(r["gzip"] for r in result["rows"])
    own = total - result["survey_text_gzip"]
    print()
    print(f"total transferred (gzip):             {total / 1024:6.1f} KB")
    print(f"the survey's own text (gzip, aside):  {result['survey_text_gzip'] / 1024:6.1f} KB")
    print(
        f"survey-engine's own weight:           {own / 1024:6.1f} KB   "
        f"(budget {BUDGET_KB:.0f} KB: {'met' if own / 1024 <= BUDGET_KB else 'NOT met'})"
    )
    for name, kb in OTHERS.items():
        print(f"{name + ' (published)':<38}{kb:6.1f} KB   ({kb / (own / 1024):.0f}x ours)")
    print(f"third-party requests: {len(result['third_party'])}  web fonts: {len(result['fonts'])}")
    return 0 if own / 1024 <= BUDGET_KB and not result["third_party"] and not result["fonts"] else 1


if __name__ == "__main__":
    sys.exit(main())
