"""File questions (image, audio, video, file): a citizen's file is checked by its
content and size, stored apart from the answers (uploads, upload_chunks), linked from
the answer by its token, refused clearly without losing anything else, passed through
the Redis buffer as a token only, exported as a staff-only link and downloadable only
by staff who may see the survey."""

from __future__ import annotations

import csv
import io
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image, ImageOps, PngImagePlugin

from survey_engine.catalog import find_survey, save_definition
from survey_engine.cli import cli
from survey_engine.definition import Definition, clean_answers, validate_definition
from survey_engine.extensions import db
from survey_engine.intake.buffer import stream_key
from survey_engine.jobs import UPLOADS_PURGE_CLAIM_KEY, purge_uploads_hourly
from survey_engine.models import Upload, UploadChunk
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import TEST_REDIS_URL, new_id, seeded_app, stored_responses
from tests.test_buffer import drainer_for
from tests.test_export_files import token as csrf
from tests.test_staff import PASSWORD, login

SLUG = "anh-hien-truong"
URL = f"/s/{SLUG}"
UPLOADS = f"/api/v1/surveys/{SLUG}/uploads"
RESPONSES = f"/api/v1/surveys/{SLUG}/responses"
LIMIT = 200_000  # UPLOAD_MAX_BYTES in these tests: big photos are cheap to make


def files_definition(slug: str = SLUG) -> dict:
    """A flood report: a photo (required), a voice note, a document, a comment."""
    return {
        "format": "survey-engine/1",
        "slug": slug,
        "title": {"vi": "Ảnh hiện trường ngập lụt"},
        "default_language": "vi",
        "pages": [
            {
                "name": "p1",
                "questions": [
                    {"name": "photo", "type": "image", "label": "Ảnh", "required": True},
                    {"name": "voice", "type": "audio", "label": "Ghi âm"},
                    {"name": "paper", "type": "file", "label": "Giấy tờ"},
                    {"name": "clip", "type": "video", "label": "Video"},
                    {"name": "comment", "type": "text", "label": "Mô tả"},
                ],
            }
        ],
    }


def png(size: int = 0) -> bytes:
    """A real PNG, padded to `size` bytes by a private chunk before its end (viewers
    skip it; kept as it is when metadata is removed)."""
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, "PNG")
    data = out.getvalue()
    room = size - len(data) - 12
    if room < 0:
        return data
    body = b"\0" * room
    private = (
        struct.pack(">I", room) + b"prVt" + body + struct.pack(">I", zlib.crc32(b"prVt" + body))
    )
    return data[:-12] + private + data[-12:]


HTML_AS_JPEG = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture
def site(database_url, tmp_path):
    yield from seeded_app(
        database_url,
        EXPORT_DIR=str(tmp_path / "exports"),
        UPLOAD_MAX_BYTES=LIMIT,
        STAFF_BASE_URL="https://khaosat.example.vn",
    )


@pytest.fixture
def client(site):
    save_definition(files_definition(), publish=True)
    return site.test_client()


def upload(client, question: str, data: bytes, name: str = "anh.png", lang: str = "vi"):
    return client.post(
        f"{UPLOADS}?lang={lang}",
        data={"question": question, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def uploads_stored() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Upload))


# -- the definition -------------------------------------------------------------------------


def test_definition_takes_the_file_types_and_fake_answers_leave_them_alone(client):
    assert validate_definition(files_definition()) == []
    d = Definition(files_definition())
    answers, errors = clean_answers(d, {"photo": "không-phải-mã"}, "vi")
    assert errors == {"photo": "Chưa nhận được tệp. Vui lòng chọn lại."}
    assert [q.name for q in d.file_questions] == ["photo", "voice", "paper", "clip"]


# -- the upload route -------------------------------------------------------------------------


def test_a_good_photo_is_stored_apart_and_the_answer_carries_its_token(client):
    data = png(LIMIT)  # at the limit exactly: taken
    reply = upload(client, "photo", data)
    assert reply.status_code == 201, reply.get_json()
    body = reply.get_json()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body["token"])
    assert body == {"token": body["token"], "size": LIMIT, "type": "png"}
    stored = db.session.scalar(sa.select(Upload))
    assert (stored.question, stored.content_type, stored.size) == ("photo", "image/png", LIMIT)
    chunks = db.session.scalars(sa.select(UploadChunk.data).order_by(UploadChunk.seq)).all()
    assert b"".join(chunks) == data
    sent = client.post(
        RESPONSES,
        json={"submission_id": new_id(), "answers": {"photo": body["token"], "comment": "Ngập"}},
    )
    assert sent.status_code == 202, sent.get_json()
    [response] = stored_responses(SLUG)
    assert response.answers == {"photo": body["token"], "comment": "Ngập"}


GPS = {1: "N", 2: (21.0, 1.0, 30.0), 3: "E", 4: (105.0, 51.0, 0.0)}  # Hà Nội, to a metre


def photo_with_gps(fmt: str, orientation: int = 6) -> bytes:
    """A phone's photo as Pillow writes one: EXIF with the GPS position, the phone's
    model and the Orientation (6: taken sideways), XMP, and a comment or text chunk."""
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, (x * y) % 256) for y in range(48) for x in range(64)])
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "Pixel 7"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    extra: dict = {"xmp": b"<x:xmpmeta>21.025 105.85</x:xmpmeta>"}
    if fmt == "JPEG":
        extra["comment"] = "Pixel 7 21.025 105.85"
    if fmt == "PNG":
        extra["pnginfo"] = PngImagePlugin.PngInfo()
        extra["pnginfo"].add_text("Comment", "Pixel 7 21.025 105.85")
    out = io.BytesIO()
    image.save(out, fmt, exif=exif, **extra)
    return out.getvalue()


def stored_bytes(token: str) -> bytes:
    upload_id = db.session.scalar(sa.select(Upload.id).where(Upload.token == token))
    chunks = db.session.scalars(
        sa.select(UploadChunk.data)
        .where(UploadChunk.upload_id == upload_id)
        .order_by(UploadChunk.seq)
    )
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("fmt", "name"), [("JPEG", "anh.jpg"), ("PNG", "anh.png"), ("WEBP", "anh.webp")]
)
def test_a_photo_is_stored_without_its_gps_position_phone_or_comments_and_still_the_same_picture(
    client, fmt, name
):
    sent = photo_with_gps(fmt)
    original = Image.open(io.BytesIO(sent))
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo) == GPS  # the test's photo has it
    if fmt == "JPEG":  # a phone's preview image after the end, with its own EXIF
        sent += b"\xff\xd8\xff\xe1 Pixel 7 GPS 21.025 105.85 \xff\xd9"
    reply = upload(client, "photo", sent, name)
    assert reply.status_code == 201, reply.get_json()
    kept = stored_bytes(reply.get_json()["token"])
    assert reply.get_json()["size"] == len(kept) < len(sent)
    for trace in (b"Pixel 7", b"21.025", b"xmpmeta", b"GPS"):
        assert trace not in kept
    image = Image.open(io.BytesIO(kept))
    assert dict(image.getexif()) == {ExifTags.Base.Orientation: 6}  # the only tag left
    assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    # Lossless: the compressed image copied as it was, so the same pixels decoded...
    assert image.tobytes() == original.tobytes()
    # ...and shown the right way up: taken sideways, 48 wide and 64 high once turned.
    assert ImageOps.exif_transpose(image).size == (48, 64)


def test_an_upright_photo_keeps_no_exif_at_all_and_a_broken_one_is_refused(client):
    reply = upload(client, "photo", photo_with_gps("JPEG", orientation=1), "anh.jpg")
    assert reply.status_code == 201
    kept = stored_bytes(reply.get_json()["token"])
    assert b"Exif" not in kept and dict(Image.open(io.BytesIO(kept)).getexif()) == {}
    # Starts like a JPEG (its first bytes pass the type check) but is not one.
    broken = photo_with_gps("JPEG")[:300]
    assert upload(client, "photo", broken, "hong.jpg").status_code == 415
    # A PNG whose header claims 40,000 x 40,000 pixels (Pillow's bomb limit is passed).
    huge = png()
    header = b"IHDR" + struct.pack(">II", 40_000, 40_000) + huge[24:29]
    huge = huge[:12] + header + struct.pack(">I", zlib.crc32(header)) + huge[33:]
    assert upload(client, "photo", huge, "lon.png").status_code == 415
    assert uploads_stored() == 1


@pytest.mark.parametrize(
    ("question", "data", "name", "status", "text"),
    [
        (
            "photo",
            HTML_AS_JPEG,
            "anh.jpg",
            415,
            "Câu hỏi này không nhận loại tệp này. Các loại được nhận: jpg, png, gif, webp, "
            "heic, avif.",
        ),
        ("voice", png(), "ghi-am.mp3", 415, "Câu hỏi này không nhận loại tệp này."),
        ("photo", png(LIMIT + 1), "to.png", 413, "Tệp quá lớn: tối đa 0,2 MB."),
        ("photo", png(LIMIT + 200_000), "rat-to.png", 413, "Tệp quá lớn: tối đa 0,2 MB."),
        ("photo", b"", "rong.png", 422, "Tệp trống. Vui lòng chọn tệp khác."),
    ],
    ids=["html-named-jpg", "png-for-audio", "just-over", "far-over-the-body-limit", "empty"],
)
def test_a_wrong_or_too_large_file_is_refused_clearly_and_nothing_is_stored(
    client, question, data, name, status, text
):
    reply = upload(client, question, data, name)
    assert reply.status_code == status
    assert reply.get_json()["error"].startswith(text)
    assert uploads_stored() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadChunk)) == 0


def test_the_upload_route_refuses_what_is_not_a_file_question(client):
    assert upload(client, "comment", png()).status_code == 404
    assert upload(client, "nothing", png()).status_code == 404
    assert client.post(UPLOADS, data={"question": "photo"}).status_code == 400
    assert client.post("/api/v1/surveys/khong-co/uploads", data={}).status_code == 404
    assert upload(client, "photo", png(), lang="en").status_code == 201


def test_uploads_are_rate_limited_per_address(database_url, tmp_path):
    for app in seeded_app(database_url, UPLOAD_RATE_LIMIT="2/minute", UPLOAD_MAX_BYTES=LIMIT):
        save_definition(files_definition(), publish=True)
        client = app.test_client()
        assert [upload(client, "photo", png()).status_code for _ in range(2)] == [201, 201]
        third = upload(client, "photo", png())
        assert third.status_code == 429
        assert int(third.headers["Retry-After"]) >= 1
        assert third.get_json()["error"].startswith("Có quá nhiều tệp được gửi từ mạng này")


# -- the submission's check of tokens ---------------------------------------------------------


def test_a_token_must_be_an_upload_of_this_survey_and_question(client):
    photo = upload(client, "photo", png()).get_json()["token"]
    save_definition(files_definition("khac"), publish=True)
    other = client.post(
        "/api/v1/surveys/khac/uploads",
        data={"question": "photo", "file": (io.BytesIO(png()), "a.png")},
        content_type="multipart/form-data",
    ).get_json()["token"]
    unknown = "A" * 43
    for answers, wrong in (
        ({"photo": unknown}, "photo"),
        ({"photo": other}, "photo"),  # another survey's upload
        ({"photo": photo, "paper": photo}, "paper"),  # the photo's upload as the paper
    ):
        reply = client.post(RESPONSES, json={"submission_id": new_id(), "answers": answers})
        assert reply.status_code == 422
        assert reply.get_json()["errors"] == {wrong: "Chưa nhận được tệp. Vui lòng chọn lại."}
    assert stored_responses(SLUG) == []


# -- the form without JavaScript ---------------------------------------------------------------


def test_without_javascript_the_form_is_multipart_and_a_refused_file_loses_nothing_else(client):
    html = client.get(URL).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert '<input type="file" id="f-photo" name="photo" accept="image/*"' in html
    assert "Một tệp, tối đa 0,2 MB." in html
    voice = io.BytesIO(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 100)
    form = {
        "submission_id": new_id(),
        "photo": (io.BytesIO(png(LIMIT + 10)), "to.png"),
        "voice": (voice, "ghi-am.mp3"),
        "comment": "Nước ngập tới gối",
    }
    reply = client.post(URL, data=form, content_type="multipart/form-data")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "Tệp quá lớn: tối đa 0,2 MB." in page
    assert "Nước ngập tới gối" in page  # the other answers come back
    # The voice note was received: its token comes back in the hidden field.
    [voice_upload] = db.session.scalars(sa.select(Upload)).all()
    assert voice_upload.question == "voice" and voice_upload.content_type == "audio/mpeg"
    assert f'name="voice" value="{voice_upload.token}"' in page
    assert "Đã nhận tệp. Chọn tệp khác nếu muốn thay." in page
    assert stored_responses(SLUG) == []
    # Sent again with a good photo (and the voice note's token from the page).
    form = {
        "submission_id": form["submission_id"],
        "photo": (io.BytesIO(png()), "anh.png"),
        "voice": voice_upload.token,
        "comment": "Nước ngập tới gối",
    }
    reply = client.post(URL, data=form, content_type="multipart/form-data")
    assert reply.status_code == 303, reply.get_data(as_text=True)
    [response] = stored_responses(SLUG)
    photo = db.session.scalar(sa.select(Upload).where(Upload.question == "photo"))
    assert response.answers == {
        "photo": photo.token,
        "voice": voice_upload.token,
        "comment": "Nước ngập tới gối",
    }


def test_a_required_file_left_out_is_asked_for(client):
    reply = client.post(URL, data={"submission_id": new_id(), "comment": "x"})
    assert reply.status_code == 422
    assert "Vui lòng trả lời câu hỏi này." in reply.get_data(as_text=True)


# -- the Redis buffer ---------------------------------------------------------------------------


def test_through_the_redis_buffer_a_submission_carries_the_token_not_the_file(
    database_url, redis_client, tmp_path
):
    for app in seeded_app(database_url, REDIS_URL=TEST_REDIS_URL, DRAIN_CLAIM_IDLE_MS=0):
        survey = save_definition(files_definition(), publish=True)
        client = app.test_client()
        photo = png(150_000)
        token = upload(client, "photo", photo).get_json()["token"]
        reply = client.post(
            RESPONSES, json={"submission_id": new_id(), "answers": {"photo": token}}
        )
        assert reply.status_code == 202
        [(_id, entry)] = redis_client.xrange(stream_key(survey.id))
        held = sum(len(k) + len(v) for k, v in entry.items())
        assert held < 2_000 and token.encode() in b"".join(entry.values())
        assert drainer_for(app).drain_once() == 1
        [response] = stored_responses(SLUG)
        assert response.answers == {"photo": token}


# -- exports and the staff download ---------------------------------------------------------------


def test_exports_link_the_file_and_only_staff_with_access_download_it(client, site, tmp_path):
    data = png(5_000)
    token = upload(client, "photo", data).get_json()["token"]
    client.post(RESPONSES, json={"submission_id": new_id(), "answers": {"photo": token}})
    out = tmp_path / "out.csv"
    result = site.test_cli_runner().invoke(
        cli, ["export", SLUG, "-o", str(out), "--format", "csv"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    link = f"https://khaosat.example.vn/admin/surveys/{SLUG}/uploads/{token}"
    assert row["photo"] == link and row["voice"] == ""
    path = link.removeprefix("https://khaosat.example.vn")

    anonymous = site.test_client()
    assert anonymous.get(path).status_code == 302  # to the sign-in page
    create_user("khac@example.org", PASSWORD, "analyst")  # no access to this survey
    outsider = site.test_client()
    assert login(outsider, "khac@example.org").status_code == 302
    assert outsider.get(path).status_code == 403

    analyst = create_user("phantich@example.org", PASSWORD, "analyst")
    share_survey(analyst, find_survey(SLUG))
    staff = site.test_client()
    assert login(staff, "phantich@example.org").status_code == 302
    reply = staff.get(path)
    assert reply.status_code == 200
    assert reply.data == data
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Content-Disposition"] == (
        f"attachment; filename={SLUG}-photo-{token[:8]}.png"
    )
    assert "no-store" in reply.headers["Cache-Control"]
    assert staff.get(path.replace(token, "B" * 43)).status_code == 404
    assert staff.get(path.replace(token, "../../etc")).status_code == 404


# -- files given up ----------------------------------------------------------------------------


def test_purge_uploads_deletes_only_old_files_no_response_names(client, site):
    used = upload(client, "photo", png()).get_json()["token"]
    given_up = upload(client, "voice", b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 50)
    given_up = given_up.get_json()["token"]
    fresh = upload(client, "photo", png()).get_json()["token"]
    sent = client.post(RESPONSES, json={"submission_id": new_id(), "answers": {"photo": used}})
    assert sent.status_code == 202
    # The first two are two days old; the third was uploaded just now.
    db.session.execute(
        sa.update(Upload)
        .where(Upload.token.in_([used, given_up]))
        .values(created_at=datetime.now(UTC) - timedelta(days=2))
    )
    db.session.commit()
    runner = site.test_cli_runner()
    dry = runner.invoke(cli, ["purge-uploads", "--dry-run"], catch_exceptions=False)
    assert dry.output.strip() == "1 unused uploads would be deleted"
    assert uploads_stored() == 3
    done = runner.invoke(cli, ["purge-uploads"], catch_exceptions=False)
    assert done.output.strip() == "1 unused uploads deleted"
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(Upload.token))) == {used, fresh}
    ids = set(db.session.scalars(sa.select(UploadChunk.upload_id)))
    assert ids == set(db.session.scalars(sa.select(Upload.id)))  # no chunk left behind


def test_the_workers_purge_unused_uploads_once_an_hour(client, redis_client):
    old = upload(client, "photo", png()).get_json()["token"]
    db.session.execute(sa.update(Upload).values(created_at=datetime.now(UTC) - timedelta(days=2)))
    db.session.commit()
    assert purge_uploads_hourly(redis_client) == 1  # the first worker of the hour
    assert purge_uploads_hourly(redis_client) is None  # another one, the same hour
    assert 3500 < redis_client.ttl(UPLOADS_PURGE_CLAIM_KEY) <= 3600
    assert old not in set(db.session.scalars(sa.select(Upload.token)))


def test_deleting_a_survey_deletes_its_files(client, site):
    token = upload(client, "photo", png()).get_json()["token"]
    client.post(RESPONSES, json={"submission_id": new_id(), "answers": {"photo": token}})
    create_user("quantri@example.org", PASSWORD, "admin")
    admin = site.test_client()
    assert login(admin, "quantri@example.org").status_code == 302
    page = f"/admin/surveys/{SLUG}"
    assert admin.post(f"{page}/close", data={"csrf_token": csrf(admin)}).status_code == 302
    reply = admin.post(f"{page}/delete", data={"csrf_token": csrf(admin), "confirm_slug": SLUG})
    assert reply.status_code == 302
    assert uploads_stored() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadChunk)) == 0
