"""Errors of the classifier package, as one shallow tree.

    ClassifierError
    ├── TaxonomyError (also ingest's ConfigError, ValueError)   a config file is wrong
    │   └── ClassifierConfigError          ... and that file is config/classifier.yaml
    └── CorpusError                        the training corpus cannot be used

Facts travel as attributes so the product can map them onto its own ConfigError
without parsing message strings.
"""

from __future__ import annotations

from ingest.errors import ConfigError


class ClassifierError(Exception):
    """Root of every error the classifier raises on purpose."""


class TaxonomyError(ConfigError, ClassifierError, ValueError):
    """A configuration file is wrong; the message names the file, key path and line.

    It is the product's ConfigError (one place formats where a config is wrong),
    so start-up reports it like any other configuration error.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message, file=file, key=key, line=line)
        self.detail = message


class ClassifierConfigError(TaxonomyError):
    """config/classifier.yaml (thresholds, languages, rules) is wrong."""


class CorpusError(ClassifierError):
    """The corpus has no usable examples, or a file in it cannot be read."""
