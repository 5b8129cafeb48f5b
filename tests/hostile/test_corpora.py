"""Real hostile mail through the normaliser and the extractors: zero crashes.

Corpora: mail-parser's malformed and spam mails (its PyPI sdist), CPython's
test_email data, SpamAssassin's sample spam and ham, and every ClamAV test file
both as raw input and as an attachment.
"""

from __future__ import annotations

from hostile_support import corpora, outcome, run_corpus

from ingest.reasons import ReasonCode


def test_every_corpus_input_is_normalised_or_rejected_with_a_reason(make_settings) -> None:
    """GIVEN every corpus WHEN each input is normalised as the pipeline does THEN
    nothing crashes, and every rejection names a known reason code."""
    settings = make_settings()
    known = {code.value for code in ReasonCode}
    total = 0
    for name, inputs in corpora().items():
        figures = run_corpus(inputs, settings)
        assert figures.crashes == [], (name, figures.crashes)
        assert set(figures.reasons) <= known, (name, set(figures.reasons) - known)
        assert figures.normalised + figures.review + figures.rejected == figures.inputs
        total += figures.inputs
    assert total >= 170  # 24 mail-parser + 68 CPython + 2 SpamAssassin + 2 x 42 ClamAV


def test_spamassassin_samples_become_messages(make_settings) -> None:
    """Spam is still a message: KCS intake files it (a person judges), it does not drop it."""
    settings = make_settings()
    inputs = corpora()["SpamAssassin examples"]
    assert sorted(inputs) == ["sample-nonspam.txt", "sample-spam.txt"]
    assert all(outcome(raw, settings).kind == "normalised" for raw in inputs.values())


def test_clamav_test_files_as_attachments_are_kept_as_attachments(make_settings) -> None:
    """Every ClamAV container (zip, 7z, cab, rtf, pdf, ole …) attached to a mail
    is normalised: the mail goes on, the file stays an attachment."""
    settings = make_settings()
    figures = run_corpus(corpora()["clamav-testfiles as attachments"], settings)
    assert figures.inputs >= 40
    assert figures.normalised == figures.inputs
