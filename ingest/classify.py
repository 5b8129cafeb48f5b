"""Which classifier the pipeline uses in this process, loaded or trained once.

Several worker processes start at the same moment; a file lock makes one of
them train (15-20 s) while the others wait and then load its model file.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
from typing import Any

from ingest.config import Settings
from ingest.errors import ConfigError
from ingest.logs import get_logger

log = get_logger("classify")


def load_classifier(settings: Settings) -> Any:
    """The trained classifier for this configuration and corpus.

    A broken taxonomy or classifier configuration stops start-up with the
    file, key and line, like every other configuration error.
    """
    from classifier import Classifier, ClassifierError, TaxonomyError

    model_dir = settings.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    with (model_dir / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            clf = Classifier.load_or_train(model_dir, settings.config_dir, settings.corpus_dir)
        except TaxonomyError:
            raise  # already a ConfigError naming the file, key and line
        except ClassifierError as exc:
            raise ConfigError(f"classifier: {exc}") from exc
    clf.languages.load()
    _return_freed_memory()
    log.info("classify.model_ready", version=clf.model_version)
    return clf


def _return_freed_memory() -> None:
    """Hand back to the kernel what loading freed (decompression buffers, the language
    model's full table): glibc keeps freed heap pages, and a worker's RSS would carry
    them for its lifetime. No-op where the C library has no ``malloc_trim``."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
