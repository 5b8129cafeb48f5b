"""The web app: health, metrics, blob download for case systems, and the staff start page.

Served by ``kcs web`` (uvicorn). Channel webhooks and the registratur screens
mount their routers here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from channels.scan import web as scan_web
from channels.sms import webhook as sms_webhook
from dedupe import caseindex
from ingest.app import Runtime
from ingest.broker import redis_client
from ingest.metrics import StoreCollector
from ingest.webapp.app import install as install_webapp
from ingest.webauth import require_api_token

# One collector per process, pointed at the runtime of the app most recently built.
_collector = StoreCollector(None)
REGISTRY.register(_collector)


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """Build the app around a runtime (tests pass their own)."""
    runtime = runtime or Runtime.build(migrate=False)
    app = FastAPI(title="KCS intake", docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    _collector.store = runtime.store
    app.include_router(sms_webhook.make_router(runtime))
    app.include_router(scan_web.make_router(runtime))
    install_webapp(app, runtime)
    app.include_router(caseindex.make_router(runtime.store))

    @app.get("/health")
    def health() -> JSONResponse:
        """Liveness and readiness: the database must answer; the broker is reported."""
        checks: dict[str, Any] = {}
        try:
            runtime.store.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            redis_client(runtime.settings).ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        checks["virus_scan"] = _virus_scan_check(runtime)
        try:
            checks["outbox_backlog"] = runtime.store.outbox_backlog()
        except Exception:
            checks["outbox_backlog"] = None
        ok = checks["database"] == "ok"
        return JSONResponse({"status": "ok" if ok else "unavailable", **checks},
                            status_code=200 if ok else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus exposition: this process's counters plus database gauges."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/blobs/{sha256}",
             dependencies=[Depends(require_api_token("Blob download"))])
    def blob(sha256: str) -> Response:
        """Raw originals and attachments for case systems holding the API token."""
        if runtime.store.is_quarantined(sha256):
            raise HTTPException(403, "Quarantined: the virus scan found malware in this "
                                     "original; it is kept for the record, not served")
        try:
            data = runtime.blobs.get(sha256)
        except (ValueError, FileNotFoundError):
            raise HTTPException(404, "No such blob") from None
        return Response(data, media_type="application/octet-stream")

    @app.get("/", response_class=HTMLResponse)
    def start() -> str:
        """A plain Swedish status page until the registratur screens arrive."""
        counts = runtime.store.count_by_state()
        rows = "".join(
            f"<tr><td>{channel}</td><td>{state}</td><td>{n}</td></tr>"
            for (channel, state), n in sorted(counts.items()))
        return (
            "<!doctype html><html lang='sv'><head><meta charset='utf-8'>"
            "<title>KCS intake</title></head><body><main>"
            "<h1>KCS intake</h1><p><a href='/app/'>Logga in i registraturen</a></p>"
            "<p>Inkomna meddelanden per kanal och status.</p>"
            "<table><caption>Meddelanden</caption><thead><tr><th scope='col'>Kanal</th>"
            "<th scope='col'>Status</th><th scope='col'>Antal</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></main></body></html>")

    return app


def _virus_scan_check(runtime: Runtime) -> str:
    """``off``, ``ok`` or ``error: clamd unreachable`` (items wait meanwhile)."""
    from ingest.antivirus import readiness

    state, _detail = readiness(runtime.settings.kcs.virus_scan)
    return "error: clamd unreachable" if state == "error" else state
