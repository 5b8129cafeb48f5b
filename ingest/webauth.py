"""The bearer token that guards machine-facing APIs until staff sign-in exists.

One check for every API that hands out citizens' data (blobs, scans, review):
off entirely when ``KCS_API_TOKEN`` is unset, so nothing is ever open by default.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

from fastapi import Header, HTTPException


def require_api_token(feature: str) -> Callable[[str], None]:
    """A FastAPI dependency: 404 while the feature is off, 401 without the right token."""

    def check(authorization: str = Header(default="")) -> None:
        token = os.environ.get("KCS_API_TOKEN", "")
        if not token:
            raise HTTPException(404, f"{feature} is off: set KCS_API_TOKEN to enable it")
        given = authorization.removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "A valid bearer token is required")

    return check
