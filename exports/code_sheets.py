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
    border = 4
    modules = len(qr.matrix) + 2 * border
    quiet = b"\xff" * modules
    rows = [quiet] * border
    for row in qr.matrix:
        rows.append(b"\xff" * border + bytes(0 if dark else 255 for dark in row) + b"\xff" * border)
    rows += [quiet] * border
    image = Image.frombytes("L", (modules, modules), b"".join(rows)).convert("1", dither=None)
    scale = max(1, side // modules)
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)


CARD = ((PAGE[0] - 2 * MARGIN) // COLUMNS, (PAGE[1] - 2 * MARGIN) // ROWS)
PAD = 14
QR_TOP = PAD + 58  # below the title and the unit
QR_SIDE = min(CARD[0] - 2 * PAD, CARD[1] - QR_TOP - 100)  # room left for address and code


@lru_cache(maxsize=8)
def _background(title: str, unit: str, address: str) -> Image.Image:
    """What every card of a batch shares (its cut line, title, unit and address),
    drawn once: a card then only adds its QR code and its code."""
    card = Image.new("1", CARD, 1)
    draw = ImageDraw.Draw(card)
    width, centre = CARD[0], CARD[0] // 2
    draw.rectangle((0, 0, CARD[0] - 1, CARD[1] - 1), outline=0)  # where to cut
    for line, size, y in ((title, 22, PAD), (unit, 20, PAD + 30)):
        font, fitted = _fit(line, size, width - 2 * PAD)
        draw.text((centre, y), fitted, fill=0, font=font, anchor="mt")
    font, fitted = _fit(address, 16, width - 2 * PAD)
    draw.text((centre, QR_TOP + QR_SIDE + 4), fitted, fill=0, font=font, anchor="mt")
    return card


def _card(card: CodeCard, text: SheetText) -> Image.Image:
    image = _background(text.title, card.unit, text.address).copy()
    qr = _qr(card.link, QR_SIDE)
    image.paste(qr, ((CARD[0] - qr.width) // 2, QR_TOP + (QR_SIDE - qr.height) // 2))
    font, code = _fit(f"{text.code_label}: {card.code}", 34, CARD[0] - 2 * PAD, FONT_BOLD)
    draw = ImageDraw.Draw(image)
    draw.text((CARD[0] // 2, QR_TOP + QR_SIDE + 26), code, fill=0, font=font, anchor="mt")
    return image


def draw_page(cards: Sequence[CodeCard], text: SheetText) -> Image.Image:
    """One A4 page of up to 12 cards, in black and white (CCITT G4 in the PDF: ~20 KB
    a page, where grey levels took ~300 KB of JPEG)."""
    page = Image.new("1", PAGE, 1)
    for i, card in enumerate(cards[:PER_PAGE]):
        left = MARGIN + (i % COLUMNS) * CARD[0]
        top = MARGIN + (i // COLUMNS) * CARD[1]
        page.paste(_card(card, text), (left, top))
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
        return draw_page(cards[i * PER_PAGE : (i + 1) * PER_PAGE], text)

    _DrawnPages(count, draw).save(handle, "PDF", save_all=True, resolution=DPI)


def write_png(handle: IO[bytes], cards: Sequence[CodeCard], text: SheetText) -> bool:
    """One page: a PNG; more: a ZIP of PNG pages (page-001.png ...). True for a ZIP."""
    if len(cards) <= PER_PAGE:
        draw_page(cards, text).save(handle, "PNG", dpi=(DPI, DPI))
        return False
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        for number, page in enumerate(pages(cards, text), start=1):
            buffer = io.BytesIO()
            page.save(buffer, "PNG", dpi=(DPI, DPI))
            archive.writestr(f"page-{number:03d}.png", buffer.getvalue())
    return True
