"""``webapp:`` in ``config/kcs.yaml``: sessions, cookies and upload limits of the staff screens."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebAppConfig(BaseModel):
    """How the registratur screens treat sessions and uploads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Set true behind HTTPS: the session cookie is then never sent over plain HTTP.
    secure_cookies: bool = False
    session_hours: float = Field(10.0, gt=0, le=24 * 7)
    idle_minutes: float = Field(60.0, gt=0, le=24 * 60)
    # Files staff upload through the scan queue screen; larger ones are refused before
    # they are parsed (scan.max_file_bytes still bounds the hot folder and the API).
    max_upload_bytes: int = Field(32 * 2**20, ge=1024)
    # How often the queue screens refresh themselves.
    poll_seconds: float = Field(3.0, ge=0.5, le=300)
