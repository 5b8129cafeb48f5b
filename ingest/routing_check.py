"""Start-up checks of ``config/routing.yaml`` that need more than its own schema.

A routing table that names a code the classifier never produces, or a rule
that an earlier rule always takes first, routes nothing and says nothing. So
every code is checked against ``config/taxonomy.yaml`` and the district
table, and every rule against the rules above it. Each error names the file,
the rule's key path and its line, like every other configuration error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.districts import Districts, load_districts
from ingest.errors import ConfigError
from ingest.yamlfile import load_yaml

if TYPE_CHECKING:
    from ingest.config import Route, RouteMatch, RoutingConfig

TEMPLATE_RE = re.compile(r"\{([^{}]*)\}")
_TEMPLATED = ("owner", "unit", "queue", "restricted_queue")


def taxonomy_codes(config_dir: Path) -> tuple[dict[str, set[str]], set[str]]:
    """(huvudkategori → ärendetyper, ärendeklasser) from ``taxonomy.yaml``.

    Read here as plain YAML: importing the classifier package would load
    scikit-learn into every process that reads configuration.
    """
    data, _ = load_yaml(config_dir / "taxonomy.yaml")
    cats = {str(code): set((entry or {}).get("arendetyper") or {})
            for code, entry in (data.get("huvudkategorier") or {}).items()}
    return cats, set(data.get("arendeklasser") or {})


def check_routing(routing: RoutingConfig, config_dir: Path) -> Districts:
    """Raise ``ConfigError`` (file:line: key: what to fix) or return the district table."""
    path = config_dir / "routing.yaml"
    _, line_of = load_yaml(path)
    districts = load_districts(config_dir / routing.districts_file)
    categories, classes = taxonomy_codes(config_dir)

    def fail(msg: str, *key: str | int) -> ConfigError:
        return ConfigError(msg, file=str(path), key=".".join(map(str, key)), line=line_of(key))

    if not routing.default.match.is_empty:
        raise fail("the default takes everything no rule took; remove its match",
                   "default", "match")
    must_be_restricted = [(("restricted_default",), routing.restricted_default)]
    if routing.fast_path is not None:
        must_be_restricted.append((("fast_path", "restricted_queue"),
                                   routing.fast_path.restricted_queue))
    for keys, queue in must_be_restricted:
        if not routing.is_restricted(queue):
            raise fail(f"{queue!r} must start with {routing.restricted_prefix!r}", *keys)
    _check_route(routing.default, ("default",), routing, districts, fail)
    seen: dict[str, int] = {}
    for i, route in enumerate(routing.routes):
        here = ("routes", i)
        if route.name in seen or route.name == routing.default.name:
            raise fail(f"rule name {route.name!r} is used twice; names appear in "
                       "`routes explain` and the audit log", *here, "name")
        seen[route.name] = i
        m = route.match
        for value in m.values("huvudkategori") or ():
            if value not in categories:
                raise fail(f"unknown huvudkategori {value!r}; known: "
                           f"{', '.join(sorted(categories))}", *here, "match", "huvudkategori")
        types = m.values("arendetyp")
        if types is not None:
            cats = m.values("huvudkategori")
            if cats is None:
                raise fail("an ärendetyp code is unique only within its huvudkategori; "
                           "name the huvudkategori too", *here, "match", "arendetyp")
            for value in types:
                if not any(value in categories[c] for c in cats):
                    raise fail(f"unknown ärendetyp {value!r} in {'/'.join(cats)}",
                               *here, "match", "arendetyp")
        for value in m.values("arendeklass") or ():
            if value not in classes:
                raise fail(f"unknown ärendeklass {value!r}; known: {', '.join(sorted(classes))}",
                           *here, "match", "arendeklass")
        for value in m.values("stadsdel") or ():
            if value != "*" and value not in districts.codes:
                raise fail(f"unknown stadsdel {value!r}; known: "
                           f"{', '.join(sorted(districts.codes))} (or \"*\" for any)",
                           *here, "match", "stadsdel")
        if m.flags.get("sekretess") and not routing.is_restricted(route.queue):
            raise fail(f"secret items go only to restricted queues ({routing.restricted_prefix}"
                       "…)", *here, "queue")
        _check_route(route, here, routing, districts, fail)
        for j, earlier in enumerate(routing.routes[:i]):
            if covers(earlier.match, m, districts):
                raise fail(f"unreachable: rule {earlier.name!r} (line "
                           f"{line_of(('routes', j))}) above matches every item this rule "
                           "matches; move this rule up or narrow the earlier one", *here)
    return districts


def _check_route(route: Route, here: tuple[Any, ...], routing: RoutingConfig,
                 districts: Districts, fail: Any) -> None:
    for attr in _TEMPLATED:
        value = getattr(route, attr)
        for name in TEMPLATE_RE.findall(value or ""):
            if name != "stadsdel":
                raise fail(f"unknown placeholder {{{name}}}; only {{stadsdel}} is filled in",
                           *here, attr)
            stadsdelar = route.match.values("stadsdel")
            if stadsdelar is None:
                raise fail("{stadsdel} needs a rule that requires a known district "
                           "(match: {stadsdel: \"*\"})", *here, attr)
    if route.restricted_queue and not routing.is_restricted(route.restricted_queue):
        raise fail(f"must start with {routing.restricted_prefix!r}", *here, "restricted_queue")


def _domain(match: RouteMatch, key: str, districts: Districts) -> set[str] | None:
    values = match.values(key)
    if values is None:
        return None
    if key == "stadsdel" and "*" in values:
        return set(districts.codes)
    return set(values)


def covers(earlier: RouteMatch, later: RouteMatch, districts: Districts) -> bool:
    """Whether every item ``later`` matches is matched by ``earlier`` (so ``later`` is dead)."""
    for key in ("huvudkategori", "arendetyp", "arendeklass", "stadsdel"):
        mine, theirs = _domain(earlier, key, districts), _domain(later, key, districts)
        if mine is not None and (theirs is None or not theirs <= mine):
            return False
    for flag, want in earlier.flags.items():
        if later.flags.get(flag) != want:
            return False
    return earlier.needs_triage is None or later.needs_triage == earlier.needs_triage
