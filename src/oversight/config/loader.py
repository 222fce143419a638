"""Load a site YAML and report every problem with its file and line.

PyYAML's node tree keeps the position of every key and value; we keep a map from the
pydantic error location (a path of keys and indexes) to that position.

Hostile input is refused with a ``file:line`` message before it can cost time or memory: a first
pass over PyYAML's (iterative) event stream bounds nesting depth and alias count before the
(recursive) composer runs, construction counts every value it builds (an alias bomb expands
exponentially), keys must be plain scalars, and scalars that cannot be built (a 5,000-digit
integer, an unknown tag) name their line. Only the safe constructor ever runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from oversight.config.models import packaged_model
from oversight.config.schema import CameraConfig, SiteConfig

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.file}:{self.line}: {self.message}{where}"


class ConfigError(Exception):
    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster
MAX_DEPTH = 64  # a site config nests about 6 deep
MAX_ALIASES = 100  # anchors/aliases are allowed for repeated blocks, not for amplification
MAX_VALUES = 50_000  # every key, value and list item built, aliases expanded
MAX_SCALAR_CHARS = 100_000


class _Refused(Exception):
    """Input the loader will not process; carries the 1-based line and a plain message."""

    def __init__(self, line: int, message: str):
        self.line, self.message = line, message
        super().__init__(message)


def _line(node_or_event: Any) -> int:
    return int(node_or_event.start_mark.line) + 1


def _check_shape(text: str) -> None:
    """Bound depth and aliases on the event stream (no recursion, no expansion)."""
    depth = aliases = 0
    for ev in yaml.parse(text, Loader=_FAST):
        if isinstance(ev, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(_line(ev), f"nesting deeper than {MAX_DEPTH} levels")
        elif isinstance(ev, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(ev, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _Refused(_line(ev), f"more than {MAX_ALIASES} YAML aliases (*name)")
        elif isinstance(ev, yaml.ScalarEvent) and len(ev.value) > MAX_SCALAR_CHARS:
            raise _Refused(_line(ev), f"a value longer than {MAX_SCALAR_CHARS} characters")


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class _Builder:
    """Builds plain Python values from a node tree with the safe constructor, counting values."""

    def __init__(self, lines: dict[PathKey, int]):
        self.lines = lines
        self.count = 0
        self.scalars = yaml.SafeLoader("")  # only its constructor is used

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Refused(
                _line(node), f"the config expands to more than {MAX_VALUES} values (YAML aliases?)"
            )
        self.lines[path] = _line(node)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise _Refused(_line(node), f"unsupported YAML tag {node.tag}")
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
                    raise _Refused(_line(key_node), f"a key must be a plain value, not a {kind}")
                key = self.scalar(key_node)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Refused(_line(key_node), "YAML merge keys (<<) are not supported")
                self.lines[(*path, key)] = _line(key_node)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*path, i)) for i, v in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise _Refused(_line(node), f"cannot read this value: {problem}") from None
        except ValueError as exc:  # e.g. an integer over Python's 4300-digit limit
            text = str(node.value).lstrip("+-")
            if text.isdigit():
                raise _Refused(_line(node), f"a number of {len(text)} digits is too long") from None
            raise _Refused(_line(node), f"cannot read {text[:40]!r}: {exc}") from None
        if not isinstance(value, str | int | float | bool | type(None)) and not hasattr(value, "isoformat"):
            raise _Refused(_line(node), f"unsupported value type {type(value).__name__}")
        try:
            hash(value)
        except TypeError:
            raise _Refused(_line(node), "unsupported value") from None
        return value


def _known(loc: PathKey, lines: dict[PathKey, int]) -> PathKey:
    """The part of an error location that exists in the file (drops pydantic's union tags)."""
    path: PathKey = ()
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
    missing = loc[-1] if loc and path[-1:] != loc[-1:] and isinstance(loc[-1], str) else None
    return (*path, missing) if missing else path


def _untagged(loc: Any) -> PathKey:
    """Drop the discriminator pydantic inserts after ``rules[i]`` in error locations."""
    tags = {"zone", "line", "dwell", "crowd"}
    return tuple(p for i, p in enumerate(loc) if not (i >= 2 and loc[i - 2] == "rules" and p in tags))


def _line_for(loc: PathKey, lines: dict[PathKey, int]) -> int:
    path = _known(tuple(loc), lines)
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _fmt_path(loc: PathKey) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# What a pattern allows, in words: "String should match pattern '^[A-Za-z0-9_-]+$'" helps nobody.
_PATTERN_WORDS = {
    r"^[A-Za-z0-9_-]+$": "use only letters, digits, '-' and '_' (no spaces)",
    r"^[A-Za-z0-9_.-]+$": "use only letters, digits, '-', '_' and '.' (no spaces)",
}


def _pydantic_message(err: Any) -> str:
    if err["type"] == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern", "")
        words = _PATTERN_WORDS.get(pattern, "contains characters that are not allowed here")
        return f"{words}, got {err.get('input')!r}"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{err['loc'][-1]}'"
    if err["type"] == "missing":
        return f"missing required key '{err['loc'][-1]}'"
    expected = err["msg"]
    got = err.get("input")
    if isinstance(got, (str, int, float, bool)) and err["type"] not in {"value_error"}:
        return f"{expected}, got {got!r}"
    return str(expected)


def _in_frame(points: Any, width: int, height: int) -> bool:
    return all(0 <= x <= width and 0 <= y <= height for x, y in points)


def semantic_issues(cfg: SiteConfig) -> list[tuple[PathKey, str]]:
    """Checks that need more than one field: unique ids, shapes inside the detect frame."""
    found: list[tuple[PathKey, str]] = []
    seen: dict[str, int] = {}
    for ci, cam in enumerate(cfg.cameras):
        if cam.id in seen:
            found.append(
                (("cameras", ci, "id"), f"duplicate camera id '{cam.id}' (first at cameras[{seen[cam.id]}])")
            )
        seen.setdefault(cam.id, ci)
        found.extend(camera_issues(cam, ("cameras", ci)))
    return found + group_issues(cfg)


def group_issues(cfg: SiteConfig) -> list[tuple[PathKey, str]]:
    """Camera groups: unique ids, and only cameras that exist."""
    found: list[tuple[PathKey, str]] = []
    known = {c.id for c in cfg.cameras}
    seen: set[str] = set()
    for gi, group in enumerate(cfg.camera_groups):
        if group.id in seen:
            found.append((("camera_groups", gi, "id"), f"duplicate camera group id '{group.id}'"))
        seen.add(group.id)
        for ci, cid in enumerate(group.cameras):
            if cid not in known:
                found.append((("camera_groups", gi, "cameras", ci), f"no camera '{cid}'"))
    return found


def camera_issues(cam: CameraConfig, base: PathKey = ()) -> list[tuple[PathKey, str]]:
    found: list[tuple[PathKey, str]] = []
    w, h = cam.detect.width, cam.detect.height
    frame = f"the {w}x{h} detect frame"
    if cam.detect.detector == "onnx" and not cam.detect.model_path and not packaged_model("detector"):
        found.append(
            ((*base, "detect", "detector"), "detector 'onnx' needs detect.model_path or oversight-models")
        )
    if cam.detect.model_path and not Path(cam.detect.model_path).expanduser().is_file():
        found.append(((*base, "detect", "model_path"), f"model file not found: {cam.detect.model_path}"))
    for mi, mask in enumerate(cam.motion.masks):
        if len(mask) < 3:
            found.append(((*base, "motion", "masks", mi), "a mask polygon needs at least 3 points"))
        elif not _in_frame(mask, w, h):
            found.append(((*base, "motion", "masks", mi), f"mask is outside {frame}"))
    if cam.ptz is not None and not cam.onvif:
        found.append(((*base, "ptz"), "a PTZ camera needs its ONVIF address in 'onvif'"))
    rule_ids: set[str] = set()
    for ri, rule in enumerate(cam.rules):
        if rule.id in rule_ids:
            found.append(((*base, "rules", ri, "id"), f"duplicate rule id '{rule.id}' on camera '{cam.id}'"))
        rule_ids.add(rule.id)
        pts = rule.line if rule.type == "line" else rule.polygon
        if not _in_frame(pts, w, h):
            key = "line" if rule.type == "line" else "polygon"
            found.append(((*base, "rules", ri, key), f"{rule.type} '{rule.id}' is outside {frame}"))
        if rule.type == "line" and rule.line[0] == rule.line[1]:
            found.append(((*base, "rules", ri, "line"), "a line needs two different points"))
        if rule.type == "line" and rule.alert and rule.alert_above is None:
            msg = "a counting line alerts only above a threshold: set alert_above (crossings per per_minutes)"
            found.append(((*base, "rules", ri, "alert"), msg))
    return found


def parse_config(text: str, filename: str = "<config>") -> SiteConfig:
    """Parse YAML text; raise ConfigError listing every problem with file and line."""
    lines: dict[PathKey, int] = {}
    try:
        _check_shape(text)
        node = yaml.compose(text, Loader=_FAST)
        data = {} if node is None else _Builder(lines).build(node, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(filename, line, "", f"invalid YAML: {problem}")]) from None
    except _Refused as exc:
        raise ConfigError([ConfigIssue(filename, exc.line, "", f"refused: {exc.message}")]) from None
    except RecursionError:  # belt and braces: _check_shape bounds depth first
        raise ConfigError([ConfigIssue(filename, 1, "", "refused: nesting too deep")]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue(filename, 1, "", "the config must be a mapping with 'site' and 'cameras'")]
        )
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(
                filename,
                _line_for(_untagged(e["loc"]), lines),
                _fmt_path(_known(_untagged(e["loc"]), lines)),
                _pydantic_message(e),
            )
            for e in exc.errors()
        ]
        raise ConfigError(issues) from exc
    sem = semantic_issues(cfg)
    if sem:
        raise ConfigError(
            [ConfigIssue(filename, _line_for(loc, lines), _fmt_path(loc), msg) for loc, msg in sem]
        )
    return cfg


def load_config(path: str | Path) -> SiteConfig:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(p), 0, "", f"cannot read config: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        msg = f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} (save the file as UTF-8)"
        raise ConfigError([ConfigIssue(str(p), line, "", msg)]) from None
    return parse_config(text, str(p))
