"""Closed mode's code sheets: the codes of a batch as CSV (for SMS or Zalo mail-merge),
as a printable A4 PDF of QR cards and as PNG pages of the same cards.

A4 at 150 dpi, 3 x 4 cards a page; each card: the survey's title, the unit, a QR code
of the personal link, the survey's address and the code in large letters (for typing
it in by hand). The font is Debian's DejaVu Sans (fonts-dejavu-core): it has every
Vietnamese letter. Pages are drawn one at a time, so 5,000 codes (417 pages) take the
memory of one page.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import IO

import segno
from PIL import Image, ImageDraw, ImageFont

from exports.safe_cells import csv_safe

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
DPI = 150
PAGE = (1240, 1754)  # A4 (210 x 297 mm) at 150 dpi
COLUMNS, ROWS = 3, 4
MARGIN = 40
PER_PAGE = COLUMNS * ROWS


@dataclass(frozen=True)
class CodeCard:
    code: str  # as written: XXXX-XXXX
    link: str  # the personal link (the QR code's content)
    unit: str


@dataclass(frozen=True)
class SheetText:
    title: str
    address: str  # the survey's link without the code, shown short
    code_label: str  # "Code" in the staff's language


def write_csv(handle: IO[bytes], cards: Sequence[CodeCard], headers: Sequence[str]) -> None:
    """code, link, unit: UTF-8 with a BOM (Excel reads Vietnamese), formula-safe."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([csv_safe(h) for h in headers])
    for card in cards:
        writer.writerow([csv_safe(card.code), csv_safe(card.link), csv_safe(card.unit)])
    text.detach()


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError:  # no DejaVu: Pillow's own font (Latin letters only)
        return ImageFont.load_default(size)


@lru_cache(maxsize=512)
def _fit(text: str, size: int, width: int, path: str = FONT):
    """The font size (down to 12) at which `text` fits `width`, and the text, cut with
    an ellipsis if even that is too wide. Cached: every card repeats the title."""
    while size > 12 and _font(path, size).getlength(text) > width:
        size -= 1
    font = _font(path, size)
    while len(text) > 1 and font.getlength(text) > width:
        text = text[:-2] + "…"
    return font, text


def _qr(link: str, side: int) -> Image.Image:
    """The link's QR code (error correction M, 4-module quiet zone) scaled to about `side`."""
    # A fixed mask: choosing the best of eight is most of segno's time (30 ms a code)
    # and any mask reads; print quality does not need the lowest penalty.
    qr = segno.make_qr(link, error="m", boost_error=False, mask=2)
    rows = list(qr.matrix_iter(border=4))
    modules = len(rows)
    image = Image.new("1", (modules, modules), 1)
    image.putdata([0 if dark else 1 for row in rows for dark in row])
    scale = max(1, side // modules)
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)


def _card(page: Image.Image, box: tuple[int, int, int, int], card: CodeCard, text: SheetText):
    left, top, right, bottom = box
    draw = ImageDraw.Draw(page)
    draw.rectangle(box, outline=110)  # where to cut (black once thresholded)
    width, pad = right - left, 14
    centre = (left + right) // 2
    y = top + pad
    font, title = _fit(text.title, 22, width - 2 * pad)
    draw.text((centre, y), title, fill=0, font=font, anchor="mt")
    y += 30
    font, unit = _fit(card.unit, 20, width - 2 * pad)
    draw.text((centre, y), unit, fill=0, font=font, anchor="mt")
    y += 28
    qr = _qr(card.link, min(width - 2 * pad, bottom - y - 100))
    page.paste(qr, (centre - qr.width // 2, y))
    y += qr.height + 4
    font, address = _fit(text.address, 16, width - 2 * pad)
    draw.text((centre, y), address, fill=0, font=font, anchor="mt")
    y += 22
    font, code = _fit(f"{text.code_label}: {card.code}", 34, width - 2 * pad, FONT_BOLD)
    draw.text((centre, y), code, fill=0, font=font, anchor="mt")


def draw_page(cards: Sequence[CodeCard], text: SheetText) -> Image.Image:
    """One A4 page of up to 12 cards, in grey levels."""
    page = Image.new("L", PAGE, 255)
    card_w = (PAGE[0] - 2 * MARGIN) // COLUMNS
    card_h = (PAGE[1] - 2 * MARGIN) // ROWS
    for i, card in enumerate(cards[:PER_PAGE]):
        left = MARGIN + (i % COLUMNS) * card_w
        top = MARGIN + (i // COLUMNS) * card_h
        _card(page, (left, top, left + card_w - 1, top + card_h - 1), card, text)
    return page


def pages(cards: Sequence[CodeCard], text: SheetText) -> Iterator[Image.Image]:
    for start in range(0, max(len(cards), 1), PER_PAGE):
        yield draw_page(cards[start : start + PER_PAGE], text)


class _DrawnPages(Image.Image):
    """A multi-frame image whose frames (pages) are drawn when Pillow's PDF writer
    seeks to them: one page in memory at a time instead of all of them."""

    def __init__(self, count: int, draw: Callable[[int], Image.Image]) -> None:
        super().__init__()
        self._draw = draw
        self._count = count
        self._frame = -1
        self.seek(0)

    @property
    def n_frames(self) -> int:
        return self._count

    @property
    def is_animated(self) -> bool:
        return self._count > 1

    def seek(self, frame: int) -> None:
        if not 0 <= frame < self._count:
            raise EOFError("no such page")
        if frame != self._frame:
            drawn = self._draw(frame)
            self.im = drawn.im
            self._mode = drawn.mode
            self._size = drawn.size
            self._frame = frame

    def tell(self) -> int:
        return self._frame


def write_pdf(handle: IO[bytes], cards: Sequence[CodeCard], text: SheetText) -> None:
    """A multi-page A4 PDF at 150 dpi in black and white (Pillow's PDF writer)."""
    count = max(1, -(-len(cards) // PER_PAGE))

    def draw(i: int) -> Image.Image:
        page = draw_page(cards[i * PER_PAGE : (i + 1) * PER_PAGE], text)
        # Black and white: CCITT G4 in the PDF, ~30 KB a page instead of ~300 KB of JPEG.
        return page.point(lambda level: 255 if level > 160 else 0).convert("1", dither=None)

    _DrawnPages(count, draw).save(handle, "PDF", save_all=True, resolution=DPI)


def write_png(handle: IO[bytes], cards: Sequence[CodeCard], text: SheetText) -> bool:
    """One page: a PNG; more: a ZIP of PNG pages (page-001.png ...). True for a ZIP."""
    if len(cards) <= PER_PAGE:
        draw_page(cards, text).save(handle, "PNG", dpi=(DPI, DPI), optimize=True)
        return False
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        for number, page in enumerate(pages(cards, text), start=1):
            buffer = io.BytesIO()
            page.save(buffer, "PNG", dpi=(DPI, DPI), optimize=True)
            archive.writestr(f"page-{number:03d}.png", buffer.getvalue())
    return True
