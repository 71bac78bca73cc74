"""A citizen's photo without its metadata: no GPS position, phone model or time kept.

A phone's JPEG carries EXIF (often the place it was taken, to a few metres), XMP, and
vendor blocks; for an anonymous survey that is personal data nobody asked for. It is
removed at intake, before the file is stored, for JPEG, PNG and WebP, losslessly: the
container is rewritten without its metadata blocks and the compressed image data is
copied byte for byte (no re-encoding, so no quality lost and the pixels unchanged).

Kept: what decoding needs or colour needs (JPEG's JFIF, the Adobe block, ICC colour
profiles; PNG's and WebP's image chunks), and the EXIF Orientation alone, written
again as the only tag when it is not "upright", so a photo taken sideways still shows
the right way up. Dropped too: anything after the image's end (phones append preview
and depth images there, with their own EXIF).

HEIC, AVIF and GIF are kept as sent (docs/uploads.md says why).
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, UnidentifiedImageError

ORIENTATION_TAG = 0x0112
UPRIGHT = 1
EXIF_PREFIX = b"Exif\x00\x00"
STRIPPED_KINDS = frozenset({"jpg", "png", "webp"})

# JPEG markers: APP0 (JFIF) and APP14 (Adobe: colour transform) are needed to decode;
# an APP2 ICC profile is colour. Every other APPn (EXIF, XMP, MPF, IPTC, vendors') and
# comments go.
APP0, APP1, APP2, APP14, APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
COMMENT, START_OF_SCAN, END_OF_IMAGE = 0xFE, 0xDA, 0xD9
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RST0-7: no length
ICC_PROFILE = b"ICC_PROFILE\x00"
# PNG: text (may hold XMP), EXIF and the modification time go.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_DROPPED = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})
# WebP: its EXIF and XMP chunks go; VP8X's flags say which of them are present.
WEBP_DROPPED = frozenset({b"EXIF", b"XMP "})
WEBP_EXIF_FLAG, WEBP_XMP_FLAG = 0x08, 0x04


class BadImage(ValueError):
    """The file says it is an image (its first bytes) but is not one that can be read."""


def strip_metadata(extension: str, data: bytes) -> bytes:
    """`data` (a file of kind `extension`) without its metadata; other kinds as they are.
    Raises BadImage for an image Pillow cannot open or whose blocks do not add up."""
    if extension not in STRIPPED_KINDS:
        return data
    orientation = _orientation(data)
    try:
        if extension == "jpg":
            return _jpeg(data, orientation)
        if extension == "png":
            return _png(data, orientation)
        return _webp(data, orientation)
    except (IndexError, struct.error) as error:
        raise BadImage(str(error)) from None


def _orientation(data: bytes) -> int:
    """The EXIF Orientation (1-8; 1 when absent or odd), read by Pillow, which also
    makes sure this is an image it can open."""
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        # Past Pillow's bomb limit (179 million pixels): no phone photo under the
        # upload limit is that large; refused like any file that is not an image.
        raise BadImage(str(error)) from None
    with image:
        try:
            value = image.getexif().get(ORIENTATION_TAG, UPRIGHT)
        except Exception:  # a malformed EXIF block (removed anyway): no orientation
            value = UPRIGHT
    return value if isinstance(value, int) and 1 <= value <= 8 else UPRIGHT


def _orientation_tiff(orientation: int) -> bytes:
    """A TIFF block (EXIF's body) holding only the Orientation tag."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()[len(EXIF_PREFIX) :]


# -- JPEG ---------------------------------------------------------------------------


def _jpeg(data: bytes, orientation: int) -> bytes:
    """Segments kept as they are, up to the end-of-image marker; the scans' compressed
    data copied byte for byte."""
    if data[:2] != b"\xff\xd8":
        raise BadImage("no JPEG start")
    out = [data[:2]]
    exif = b""
    if orientation != UPRIGHT:
        body = EXIF_PREFIX + _orientation_tiff(orientation)
        exif = b"\xff" + bytes([APP1]) + struct.pack(">H", len(body) + 2) + body
    pos = 2
    while True:
        if data[pos] != 0xFF:
            raise BadImage(f"no JPEG marker at byte {pos}")
        while data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == END_OF_IMAGE:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker in STANDALONE:
            out.append(bytes([0xFF, marker]))
            continue
        if exif and marker != APP0:  # after JFIF, before everything else
            out.append(exif)
            exif = b""
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        end = pos + length
        if length < 2 or end > len(data):
            raise BadImage("a JPEG segment runs past the end")
        if _jpeg_keeps(marker, data[pos + 2 : end]):
            out.append(bytes([0xFF, marker]) + data[pos:end])
        pos = end
        if marker == START_OF_SCAN:
            scan_end = _scan_end(data, pos)
            out.append(data[pos:scan_end])
            pos = scan_end


def _jpeg_keeps(marker: int, body: bytes) -> bool:
    if marker == APP2:
        return body.startswith(ICC_PROFILE)
    if APP0 < marker <= APP15 and marker != APP14:
        return False
    return marker != COMMENT


def _scan_end(data: bytes, pos: int) -> int:
    """Where a scan's compressed data ends: the next marker that is not a stuffed
    0xFF00 or a restart marker."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0:
            raise BadImage("a JPEG scan without an end")
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


# -- PNG ----------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png(data: bytes, orientation: int) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise BadImage("no PNG signature")
    out = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    while True:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise BadImage("a PNG chunk runs past the end")
        if kind not in PNG_DROPPED:
            out.append(data[pos:end])
        if kind == b"IHDR" and orientation != UPRIGHT:
            out.append(_png_chunk(b"eXIf", _orientation_tiff(orientation)))
        pos = end
        if kind == b"IEND":
            return b"".join(out)


# -- WebP ---------------------------------------------------------------------------


def _webp(data: bytes, orientation: int) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise BadImage("no WebP header")
    (riff_size,) = struct.unpack("<I", data[4:8])
    stop = min(len(data), 8 + riff_size)
    chunks: list[bytes] = []
    extended = False
    pos = 12
    while pos + 8 <= stop:
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = pos + 8 + size + (size & 1)
        if pos + 8 + size > stop:
            raise BadImage("a WebP chunk runs past the end")
        chunk = data[pos:end]
        if kind == b"VP8X":
            extended = True
            flags = chunk[8] & ~(WEBP_EXIF_FLAG | WEBP_XMP_FLAG)
            if orientation != UPRIGHT:
                flags |= WEBP_EXIF_FLAG
            chunk = chunk[:8] + bytes([flags]) + chunk[9:]
        if kind not in WEBP_DROPPED:
            chunks.append(chunk)
        pos = end
    if extended and orientation != UPRIGHT:
        body = _orientation_tiff(orientation)
        pad = b"\x00" if len(body) & 1 else b""
        chunks.append(b"EXIF" + struct.pack("<I", len(body)) + body + pad)
    payload = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload
