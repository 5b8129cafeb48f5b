"""KCS intake classifier: huvudkategori, ärendetyp, ärendeklass and flags for written messages.

Public API (the pipeline depends on exactly these names)::

    from classifier import Classifier, Classification
    clf = Classifier.load_or_train(model_dir, config_dir, corpus_dir)
    c = clf.classify(subject, text, channel)      # never raises on bad input
    c.to_dict()

See docs/classifier.md for the design and the measured figures.
"""

from classifier.corrections import append_correction
from classifier.engine import FORMAT_VERSION, Classification, Classifier
from classifier.errors import ClassifierConfigError, ClassifierError, CorpusError, TaxonomyError
from classifier.reasons import Reason
from classifier.settings import ClassifierSettings, load_settings
from classifier.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "FORMAT_VERSION",
    "Classification",
    "Classifier",
    "ClassifierConfigError",
    "ClassifierError",
    "ClassifierSettings",
    "CorpusError",
    "Reason",
    "Taxonomy",
    "TaxonomyError",
    "append_correction",
    "load_settings",
    "load_taxonomy",
]
