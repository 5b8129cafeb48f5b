"""Which classifier the pipeline uses in this process, loaded or trained once.

Several worker processes start at the same moment; a file lock makes one of
them train (15-20 s) while the others wait and then load its model file.
"""

from __future__ import annotations

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
    log.info("classify.model_ready", version=clf.model_version)
    return clf
