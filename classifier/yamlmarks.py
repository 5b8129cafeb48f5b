"""YAML with line numbers, so a config error points at the line to fix.

PyYAML silently keeps the last of two equal keys; for a taxonomy that would hide
a copy-paste mistake (two ``hemtjanst`` entries), so we compose the node tree
ourselves, refuse duplicates and remember the line of every key path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from classifier.errors import TaxonomyError

KeyPath = tuple[str | int, ...]


def dotted(path: Sequence[str | int]) -> str:
    """``("huvudkategorier", "miljo", "arendetyper")`` as ``huvudkategorier.miljo.arendetyper``."""
    return ".".join(str(p) for p in path)


@dataclass
class MarkedDoc:
    """Parsed YAML plus the line (1-based) of each key path."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of ``path``, or of its nearest parent that has one."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get(())

    def error(self, path: Sequence[str | int], message: str,
              cls: type[TaxonomyError] = TaxonomyError) -> TaxonomyError:
        """An error naming this file, ``path`` and its line."""
        return cls(message, file=self.file, key=dotted(path) or None, line=self.line_of(path))


def _to_python(node: yaml.Node, doc: MarkedDoc, path: KeyPath,
               cls: type[TaxonomyError]) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader("").construct_object(key_node)  # type: ignore[no-untyped-call]
            if not isinstance(key, str | int | bool | float) or key is None:
                raise cls("keys must be plain scalars", file=doc.file, key=dotted(path) or None,
                          line=key_node.start_mark.line + 1)
            key = str(key)
            if key in out:
                raise cls(f"key {key!r} appears twice; keep one", file=doc.file,
                          key=dotted((*path, key)), line=key_node.start_mark.line + 1)
            out[key] = _to_python(value_node, doc, (*path, key), cls)
            # The key's own line, not its value's: that is where a person looks.
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, doc, (*path, i), cls) for i, v in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node)  # type: ignore[no-untyped-call]


def load_marked(path: Path, cls: type[TaxonomyError] = TaxonomyError) -> MarkedDoc:
    """Parse ``path``; raise ``cls`` naming the file and line on unreadable or bad YAML."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise cls(f"cannot read file: {exc}", file=str(path)) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise cls(f"not valid YAML: {exc.problem}", file=str(path), line=line) from exc
    doc = MarkedDoc(file=str(path), data=None)
    doc.data = {} if node is None else _to_python(node, doc, (), cls)
    return doc
