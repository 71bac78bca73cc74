"""Interface text in Vietnamese and English, and choosing the reader's language.

Survey content carries its own translations; this is only the engine's own words.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import request

UI_LANGUAGES = ("vi", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"vi": "Vui lòng trả lời câu hỏi này.", "en": "Please answer this question."},
    "unknown_choice": {
        "vi": "Lựa chọn không hợp lệ: {value}.",
        "en": "Not one of the choices: {value}.",
    },
    "one_choice": {"vi": "Chỉ chọn một phương án.", "en": "Choose only one option."},
    "not_integer": {"vi": "Vui lòng nhập một số nguyên.", "en": "Please enter a whole number."},
    "not_decimal": {"vi": "Vui lòng nhập một số.", "en": "Please enter a number."},
    "not_text": {"vi": "Câu trả lời phải là văn bản.", "en": "The answer must be text."},
    "too_long": {
        "vi": "Câu trả lời quá dài (tối đa {limit} ký tự).",
        "en": "The answer is too long (at most {limit} characters).",
    },
    "number_range": {"vi": "Số quá lớn.", "en": "The number is too large."},
    "unknown_question": {"vi": "Không có câu hỏi này.", "en": "There is no such question."},
    "not_answerable": {
        "vi": "Câu hỏi này không nhận câu trả lời.",
        "en": "This question takes no answer.",
    },
    "other_without_other": {
        "vi": "Chỉ điền khi chọn “Khác”.",
        "en": "Fill this in only when you choose “Other”.",
    },
    "constraint": {"vi": "Câu trả lời không hợp lệ.", "en": "This answer is not valid."},
    "not_date": {"vi": "Vui lòng nhập ngày hợp lệ.", "en": "Please enter a valid date."},
    "date_min": {"vi": "Ngày không được trước {limit}.",
                "en": "The date cannot be before {limit}."},
    "date_max": {"vi": "Ngày không được sau {limit}.", "en": "The date cannot be after {limit}."},
    "date_future": {"vi": "Ngày không được ở tương lai.",
                   "en": "The date cannot be in the future."},
    "not_email": {"vi": "Vui lòng nhập địa chỉ email hợp lệ, ví dụ ten@example.com.",
                  "en": "Please enter a valid email address, such as name@example.com."},
    "not_phone": {"vi": "Vui lòng nhập số điện thoại Việt Nam, ví dụ 0912 345 678.",
                  "en": "Please enter a Vietnamese phone number, such as 0912 345 678."},
    "number_min": {"vi": "Số nhỏ nhất là {limit}.",
                  "en": "The smallest number allowed is {limit}."},
    "number_max": {"vi": "Số lớn nhất là {limit}.", "en": "The largest number allowed is {limit}."},
    "scale_range": {"vi": "Chọn một số từ {low} đến {high}.",
                    "en": "Choose a number from {low} to {high}."},
    "too_few_choices": {"vi": "Chọn ít nhất {limit} phương án.",
                        "en": "Choose at least {limit} options."},
    "too_many_choices": {"vi": "Chọn nhiều nhất {limit} phương án.",
                         "en": "Choose at most {limit} options."},
    "exclusive": {"vi": "Phương án “{choice}” không chọn cùng phương án khác.",
                  "en": "“{choice}” cannot be chosen together with other options."},
    "rank_incomplete": {"vi": "Vui lòng xếp hạng tất cả các phương án.",
                        "en": "Please rank every option."},
    "rank_positions": {"vi": "Mỗi thứ hạng chỉ dùng một lần, từ 1 trở đi.",
                       "en": "Use each rank once, starting from 1."},
    "matrix_incomplete": {"vi": "Vui lòng trả lời tất cả các dòng.",
                          "en": "Please answer every row."},
    "unknown_row": {"vi": "Không có dòng này: {value}.", "en": "There is no such row: {value}."},
    "not_acknowledged": {"vi": "Vui lòng đánh dấu để xác nhận.",
                         "en": "Please tick the box to confirm."},
    "nps_low": {"vi": "0 = chắc chắn không", "en": "0 = not at all likely"},
    "nps_high": {"vi": "10 = chắc chắn có", "en": "10 = extremely likely"},
    "other": {"vi": "Khác", "en": "Other"},
    "other_specify": {"vi": "Khác (ghi rõ)", "en": "Other (please specify)"},
    "submit": {"vi": "Gửi phiếu", "en": "Submit"},
    "required_mark": {"vi": "bắt buộc", "en": "required"},
    "choose": {"vi": "— Chọn —", "en": "— Choose —"},
    "errors_title": {
        "vi": "Phiếu chưa gửi được. Vui lòng sửa {count} lỗi dưới đây.",
        "en": "Not sent yet. Please fix the {count} problem(s) below.",
    },
    "thanks_title": {"vi": "Cảm ơn bạn!", "en": "Thank you!"},
    "thanks_body": {
        "vi": "Ý kiến của bạn đã được ghi nhận.",
        "en": "Your answers have been received.",
    },
    "already_sent_title": {"vi": "Phiếu này đã được gửi", "en": "This form was already sent"},
    "already_sent_body": {
        "vi": "Phiếu này đã được gửi trước đó với câu trả lời khác; lần gửi sau không được ghi.",
        "en": "This form was sent before with other answers; the later sending was not stored.",
    },
    "new_response": {"vi": "Trả lời phiếu mới", "en": "Answer again"},
    "closed_title": {"vi": "Khảo sát không nhận trả lời", "en": "Survey not open"},
    "closed_body": {
        "vi": "Khảo sát này hiện không nhận câu trả lời.",
        "en": "This survey is not accepting answers now.",
    },
    "not_open_title": {"vi": "Khảo sát chưa mở", "en": "Survey not open yet"},
    "not_open_body": {
        "vi": "Khảo sát này chưa bắt đầu nhận trả lời. Vui lòng quay lại sau.",
        "en": "This survey has not started taking answers yet. Please come back later.",
    },
    "full_title": {"vi": "Khảo sát đã đủ số phiếu", "en": "Survey full"},
    "full_body": {
        "vi": "Khảo sát đã nhận đủ số phiếu cần thiết. Cảm ơn bạn đã quan tâm.",
        "en": "This survey has received all the answers it needs. Thank you for your interest.",
    },
    "not_found_title": {"vi": "Không tìm thấy khảo sát", "en": "Survey not found"},
    "not_found_body": {
        "vi": "Đường dẫn không đúng hoặc khảo sát đã bị xoá.",
        "en": "The link is wrong or the survey was removed.",
    },
    "too_large_title": {"vi": "Nội dung quá lớn", "en": "Too much text"},
    "too_large_body": {
        "vi": "Phiếu gửi lên quá lớn. Vui lòng rút ngắn câu trả lời và thử lại.",
        "en": "The form sent was too large. Please shorten your answers and try again.",
    },
    "unavailable": {
        "vi": "Hệ thống đang bận nên phiếu chưa được gửi. Câu trả lời của bạn vẫn còn "
              "nguyên: vui lòng bấm Gửi phiếu lại sau ít phút.",
        "en": "The system is busy, so your answers were not sent yet. They are all still "
              "here: please press Submit again in a few minutes.",
    },
    "service_unavailable_title": {"vi": "Hệ thống đang bận", "en": "Service busy"},
    "service_unavailable_body": {
        "vi": "Hệ thống tạm thời không phục vụ được. Vui lòng thử lại sau ít phút.",
        "en": "The service is unavailable for a moment. Please try again in a few minutes.",
    },
    "back": {"vi": "Quay lại", "en": "Go back"},
    # The page's script (static/survey.js): one page at a time, saved on the phone.
    "next": {"vi": "Tiếp tục", "en": "Next"},
    "progress": {"vi": "Trang {page}/{total}", "en": "Page {page} of {total}"},
    "errors_page": {
        "vi": "Vui lòng sửa {count} lỗi dưới đây để tiếp tục.",
        "en": "Please fix the {count} problem(s) below to continue.",
    },
    "saved": {"vi": "Câu trả lời được lưu tạm trên máy này.",
              "en": "Your answers are saved on this device."},
    "restored": {"vi": "Đã khôi phục câu trả lời bạn nhập trước đó.",
                 "en": "Your earlier answers have been restored."},
    "sending": {"vi": "Đang gửi…", "en": "Sending…"},
    "offline_retrying": {"vi": "Mất kết nối, đang thử gửi lại…",
                         "en": "Connection lost, trying to send again…"},
    "language": {"vi": "English", "en": "Tiếng Việt"},
}


def message(key: str, lang: str, **values: object) -> str:
    texts = MESSAGES[key]
    return texts.get(lang, texts["vi"]).format(**values)


def choose_language(available: Iterable[str], default: str) -> str:
    """`?lang=`, then the browser's Accept-Language, then the survey's default."""
    available = list(available)
    asked = request.args.get("lang")
    if asked in available:
        return asked
    best = request.accept_languages.best_match(available)
    return best or default
