"""HTTP for the scan channel: upload of scanned files, and the registratur review API.

- ``POST /api/scan/upload`` (multipart: ``file``; optional ``operator``,
  ``scanner``, ``expected_pages``, ``channel`` = letter|fax): the file goes
  through ``accept_batch``; 200 with one item per letter only after every
  item is durable, 503 when the store cannot take it now, 413 above
  ``scan.max_file_bytes``.
- ``GET /api/review``: items waiting for registratur.
- ``GET /api/review/{id}``: text with unsure words marked, fields, pages.
- ``GET /api/review/{id}/page/{n}.png?dpi=150``: the page as OCR saw it.
- ``POST /api/review/{id}/release``: JSON corrections; the item goes on.

All of it requires ``Authorization: Bearer $KCS_API_TOKEN`` and is off
(404) while the token is unset, like ``/api/blobs``: staff log-in for the
registratur screens comes with their own issue.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from channels.scan import review
from channels.scan.intake import BatchSource, accept_batch
from ingest.errors import InputRejected, IntakeUnavailable
from ingest.model import Channel
from ingest.webauth import require_api_token


def make_router(runtime: Any) -> APIRouter:
    """The scan channel's routes around one runtime."""
    router = APIRouter(dependencies=[Depends(require_api_token("The scan API"))])
    cfg = runtime.settings.kcs.scan

    @router.post("/api/scan/upload")
    async def upload(file: Annotated[UploadFile, File()],
                     operator: Annotated[str | None, Form()] = None,
                     scanner: Annotated[str | None, Form()] = None,
                     expected_pages: Annotated[int | None, Form()] = None,
                     channel: Annotated[str | None, Form()] = None) -> dict[str, Any]:
        """Take a scanned file in; answers only after every letter in it is durable."""
        data = await file.read(cfg.max_file_bytes + 1)
        if len(data) > cfg.max_file_bytes:
            raise HTTPException(413, f"larger than scan.max_file_bytes ({cfg.max_file_bytes})")
        if channel not in (None, "", "letter", "fax"):
            raise HTTPException(422, "channel must be letter or fax")
        source = BatchSource(filename=os.path.basename(file.filename or "upload"),
                             transport="upload",
                             channel=Channel(channel) if channel else None,
                             operator=operator or None, scanner=scanner or None,
                             expected_pages=expected_pages)
        try:
            receipt = await run_in_threadpool(accept_batch, runtime, data, source)
        except IntakeUnavailable:
            raise HTTPException(503, "not stored; try again shortly") from None
        return {"batch_sha256": receipt.batch_sha256, "pages": receipt.page_count,
                "problem": receipt.problem,
                "letters": [{"intake_id": r.intake_id, "duplicate": r.duplicate,
                             "pages": [i + 1 for i in pages]}
                            for r, pages in zip(receipt.receipts,
                                                receipt.letters or [[]] * len(receipt.receipts),
                                                strict=True)]}

    @router.get("/api/review")
    def held(limit: int = 100) -> dict[str, Any]:
        """Items waiting for registratur, newest first."""
        return {"items": review.list_held(runtime, max(1, min(limit, 1000)))}

    @router.get("/api/review/{intake_id}")
    def show(intake_id: str) -> dict[str, Any]:
        """One item: text with unsure words marked, fields, pages, custody."""
        try:
            return review.show(runtime, intake_id)
        except KeyError:
            raise HTTPException(404, "No such item") from None

    @router.get("/api/review/{intake_id}/page/{number}.png")
    def page(intake_id: str, number: int, dpi: int = 150) -> Response:
        """The page image, turned and straightened as OCR read it."""
        try:
            png = review.page_png(runtime, intake_id, number, dpi)
        except (KeyError, FileNotFoundError):
            raise HTTPException(404, "No such page") from None
        except InputRejected as exc:
            raise HTTPException(422, exc.reason.value) from None
        return Response(png, media_type="image/png")

    @router.post("/api/review/{intake_id}/release")
    def release(intake_id: str, corrections: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply corrections and send the item on."""
        try:
            following = review.release(runtime, intake_id, corrections or {})
        except KeyError:
            raise HTTPException(404, "No such item") from None
        except review.ReviewError as exc:
            raise HTTPException(409 if "not waiting" in str(exc) else 422, str(exc)) from None
        return {"intake_id": intake_id, "next_stage": following}

    return router
