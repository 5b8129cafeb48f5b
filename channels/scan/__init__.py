"""The scan channel: letters and faxes through OCR, with a registratur review queue.

See ``docs/scan.md``. Entry points: ``intake.accept_batch`` (hot folder,
upload, ``kcs ingest``), ``normalise.normalise_scan`` (the pipeline's
normaliser for ``Channel.LETTER`` and ``Channel.FAX``), ``review`` and
``web.make_router`` (the review queue), ``watcher.HotFolder``.
"""
