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
