"""Module the Dramatiq CLI imports in each worker process (``kcs worker`` runs it).

Importing it builds the runtime, sets the broker and declares the actors.
"""

from __future__ import annotations

from ingest.app import Runtime
from ingest.classify import load_classifier
from ingest.logs import configure

configure(process="worker")
runtime = Runtime.build(migrate=False)
broker = runtime.broker
pipeline = runtime.pipeline(load_classifier(runtime.settings))
