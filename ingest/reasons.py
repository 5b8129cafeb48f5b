"""Reason codes: why an input was rejected, quarantined or sent to a person.

Every outcome that is not a bug is one of these codes, stored with the item so
that staff can filter on it and so that the code, not a log line, is the
record. Codes are snake_case and stable: downstream systems and statistics
depend on them, so add new ones, never rename.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Closed set of reasons an input is rejected or a part of it set aside."""

    # Whole message: fatal, the item is kept as "rejected" with its raw original.
    EMPTY_INPUT = "empty_input"
    MIME_UNPARSEABLE = "mime_unparseable"
    NOT_A_MESSAGE = "not_a_message"
    MESSAGE_TOO_LARGE = "message_too_large"
    TOO_MANY_PARTS = "too_many_parts"
    NESTING_TOO_DEEP = "nesting_too_deep"

    # Parts of a message: the message goes on, the part is set aside or marked.
    HEADER_INJECTION = "header_injection"
    MALFORMED_HEADER = "malformed_header"
    CHARSET_UNKNOWN = "charset_unknown"
    CHARSET_GUESSED = "charset_guessed"
    UNSAFE_ATTACHMENT_NAME = "unsafe_attachment_name"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    DECOMPRESSION_BOMB = "decompression_bomb"
    PDF_ENCRYPTED = "pdf_encrypted"
    PDF_UNREADABLE = "pdf_unreadable"
    PDF_NO_TEXT_LAYER = "pdf_no_text_layer"
    ATTACHED_MESSAGE_UNREADABLE = "attached_message_unreadable"
    HTML_ONLY = "html_only"
    DEFECTIVE_MIME = "defective_mime"

    # Pipeline outcomes.
    STAGE_FAILED = "stage_failed"
    DUPLICATE = "duplicate"

    # E-mail normalisation (appended; parts of a message, non-fatal).
    CONTENT_TYPE_MISMATCH = "content_type_mismatch"  # magic bytes contradict type or name
    TEXT_TRUNCATED = "text_truncated"  # text cut at the configured character limit

    # SMS channel (appended; non-fatal, recorded on the normalised message).
    SMS_OPT_OUT = "sms_opt_out"  # the message is an opt-out keyword (STOP, STOPP …)
    SMS_OPT_IN = "sms_opt_in"  # the message is an opt-in keyword (START, UNSTOP)
    SMS_HELP = "sms_help"  # the message is a help keyword (HELP, HJÄLP, INFO)
    SMS_SENDER_UNPARSEABLE = "sms_sender_unparseable"  # From is no phone number (alphanumeric)
    SMS_MEDIA_UNAVAILABLE = "sms_media_unavailable"  # an MMS media URL could not be fetched
    SMS_MEDIA_NOT_TWILIO = "sms_media_not_twilio"  # media URL outside Twilio: not fetched
    SMS_MEDIA_TOO_MANY = "sms_media_too_many"  # more media than sms.max_media: rest skipped

    # Scan channel (appended). Fatal: the item is "rejected", its file kept.
    SCAN_UNSUPPORTED_FORMAT = "scan_unsupported_format"  # not a PDF, TIFF, JPEG or PNG
    SCAN_TOO_MANY_PAGES = "scan_too_many_pages"  # more pages than scan.max_pages
    SCAN_FILE_TOO_LARGE = "scan_file_too_large"  # more bytes than scan.max_file_bytes
    IMAGE_TOO_LARGE = "image_too_large"  # a page image above scan.max_image_pixels
    IMAGE_UNREADABLE = "image_unreadable"  # truncated or corrupt TIFF/JPEG/PNG
    # Scan channel: held for registratur review (state "review").
    OCR_LOW_CONFIDENCE = "ocr_low_confidence"  # a page below the quality gate
    OCR_FAILED = "ocr_failed"  # Tesseract failed or timed out on a page
    SCAN_NO_TEXT = "scan_no_text"  # every page blank, or no words found
    SCAN_PAGE_COUNT_MISMATCH = "scan_page_count_mismatch"  # pages expected ≠ pages found
    # Scan channel, non-fatal notes on the normalised message.
    SCAN_BLANK_PAGE = "scan_blank_page"  # a blank page inside the letter (kept, not OCR'd)

    # E-mail attachments (appended; non-fatal, the attachment is kept).
    PDF_TOO_COMPLEX = "pdf_too_complex"  # PDF text reading hit its time or memory limit

    # E-mail attachments read by OCR (appended): the item is held for registratur review.
    OCR_PAGE_LIMIT = "ocr_page_limit"  # more scanned pages than email_scans.max_pages
    OCR_TIME_LIMIT = "ocr_time_limit"  # OCR of the message ran past email_scans.max_ocr_seconds

    # Virus scanning (appended; ingest/antivirus.py).
    MALWARE_FOUND = "malware_found"  # fatal: quarantined, the original kept, nothing passed on
    VIRUS_SCAN_INCONCLUSIVE = "virus_scan_inconclusive"  # held for review: heuristic or size
