"""Errors of the classifier package, as one shallow tree.

    ClassifierError
    ├── TaxonomyError (also ValueError)   a config file is wrong: file, key path, line
    │   └── ClassifierConfigError          ... and that file is config/classifier.yaml
    └── CorpusError                        the training corpus cannot be used

Facts travel as attributes so the product can map them onto its own ConfigError
without parsing message strings.
"""

from __future__ import annotations


class ClassifierError(Exception):
    """Root of every error the classifier raises on purpose."""


class TaxonomyError(ClassifierError, ValueError):
    """A configuration file is wrong; the message names the file, key path and line."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")
        self.file = file
        self.key = key
        self.line = line
        self.detail = message


class ClassifierConfigError(TaxonomyError):
    """config/classifier.yaml (thresholds, languages, rules) is wrong."""


class CorpusError(ClassifierError):
    """The corpus has no usable examples, or a file in it cannot be read."""
