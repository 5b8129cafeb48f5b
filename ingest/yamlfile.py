"""Load YAML while remembering where each value stood, for errors people can act on.

A configuration error that says "smtp.port: must be an integer" is half an
answer; "config/kcs.yaml:7: smtp.port: ..." tells the operator which line to
open. ``load_yaml`` returns the data together with a function that maps a key
path to its line number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ingest.errors import ConfigError

LineOf = Callable[[Sequence[str | int]], int | None]


def _to_python(node: yaml.Node, lines: dict[tuple[str | int, ...], int],
               path: tuple[str | int, ...]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                raise ConfigError(f"key {key!r} appears twice; keep one",
                                  line=key_node.start_mark.line + 1,
                                  key=".".join(str(p) for p in (*path, key)))
            out[key] = _to_python(value_node, lines, (*path, key))
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, lines, (*path, i)) for i, v in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)  # type: ignore[no-untyped-call]


def load_yaml(path: Path) -> tuple[Any, LineOf]:
    """Parse ``path``; raise ``ConfigError`` naming the file and line on bad YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("file not found; create it or point KCS_CONFIG_DIR elsewhere",
                          file=str(path)) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(f"not valid YAML: {exc.problem}", file=str(path), line=line) from exc
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        data = {} if node is None else _to_python(node, lines, ())
    except ConfigError as exc:
        raise ConfigError(str(exc).split(": ", 2)[-1], file=str(path), key=exc.key,
                          line=exc.line) from exc

    def line_of(key_path: Sequence[str | int]) -> int | None:
        key = tuple(key_path)
        while key:
            if key in lines:
                return lines[key]
            key = key[:-1]
        return lines.get(())

    return data, line_of
