"""Load a site YAML and report every problem with its file and line.

PyYAML's node tree keeps the position of every key and value; we keep a map from the
pydantic error location (a path of keys and indexes) to that position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

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


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, (*path, i), lines) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


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


def _pydantic_message(err: Any) -> str:
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
    return found


def camera_issues(cam: CameraConfig, base: PathKey = ()) -> list[tuple[PathKey, str]]:
    found: list[tuple[PathKey, str]] = []
    w, h = cam.detect.width, cam.detect.height
    frame = f"the {w}x{h} detect frame"
    if cam.detect.detector == "onnx" and not cam.detect.model_path:
        found.append(((*base, "detect", "detector"), "detector 'onnx' needs detect.model_path"))
    if cam.detect.model_path and not Path(cam.detect.model_path).expanduser().is_file():
        found.append(((*base, "detect", "model_path"), f"model file not found: {cam.detect.model_path}"))
    for mi, mask in enumerate(cam.motion.masks):
        if len(mask) < 3:
            found.append(((*base, "motion", "masks", mi), "a mask polygon needs at least 3 points"))
        elif not _in_frame(mask, w, h):
            found.append(((*base, "motion", "masks", mi), f"mask is outside {frame}"))
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
    return found


def parse_config(text: str, filename: str = "<config>") -> SiteConfig:
    """Parse YAML text; raise ConfigError listing every problem with file and line."""
    lines: dict[PathKey, int] = {}
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(filename, line, "", f"invalid YAML: {problem}")]) from exc
    data = {} if node is None else _construct(node, (), lines)
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
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(p), 0, "", f"cannot read config: {exc.strerror}")]) from exc
    return parse_config(text, str(p))
