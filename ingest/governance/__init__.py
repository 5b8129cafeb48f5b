"""Governance of personal data: references for linking, data-subject requests, legal
holds and retention (gallring). Routing and secrecy live in ``ingest/routing.py``,
``ingest/districts.py`` and ``ingest/crypto.py``; the audit log in ``ingest/audit.py``."""
