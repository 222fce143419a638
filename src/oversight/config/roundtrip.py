"""Write a changed site config back into its YAML file keeping the file's comments and layout.

An admin's hand-written file carries comments that say why a zone is where it is; rewriting it
from the model would lose them. ``ruamel.yaml``'s round-trip mode keeps comments, key order, flow
style and quoting; we merge the new values into that tree so only what changed is touched: equal
scalars keep their spelling (``7`` stays ``7`` although the model holds ``7.0``), list items with
an ``id`` (cameras, rules) are matched by id, and a key whose new value is the model's default but
was written in the file stays written. The file is read through ``parse_config`` first, so the
loader's hostile-YAML limits guard this reader too; anything it refuses is rewritten plainly.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from oversight.config.loader import ConfigError, parse_config
from oversight.config.schema import SiteConfig


def _indents(text: str) -> tuple[int, int]:
    """The file's mapping indent and the offset of its ``-`` under a key (the most common of each):
    ruamel re-emits the whole document with one indentation, so it must be the file's own."""
    maps: Counter[int] = Counter()
    seqs: Counter[int] = Counter()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for line, nxt in zip(lines, lines[1:], strict=False):
        if not line.rstrip().endswith(":"):
            continue
        here = len(line) - len(line.lstrip()) + (2 if line.lstrip().startswith("- ") else 0)
        deeper = len(nxt) - len(nxt.lstrip()) - here
        if nxt.lstrip().startswith("- ") and deeper >= 0:
            seqs[deeper] += 1
        elif deeper > 0:
            maps[deeper] += 1
    return (maps.most_common(1)[0][0] if maps else 2), (seqs.most_common(1)[0][0] if seqs else 2)


def _yaml(text: str | None) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long line the admin wrote
    mapping, offset = _indents(text or "")
    y.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return y


def _plain(value: Any) -> Any:
    """New values as YAML would want them: 10.0 -> 10, point lists in flow style."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _plain(v)
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq([_plain(v) for v in value])
        if value and all(_numbers(v) for v in value):
            seq.fa.set_flow_style()  # a point [x, y] or a polygon of them on one line
        return seq
    return value


def _numbers(v: Any) -> bool:
    return isinstance(v, int | float) or (
        isinstance(v, list | tuple) and all(isinstance(x, int | float) for x in v)
    )


def _same(old: Any, new: Any) -> bool:
    return type(old) is not bool and type(new) is not bool and old == new or old is new


def _merge(old: Any, full: Any, minimal: Any) -> Any:
    """``old`` (a ruamel node) updated to ``full``; ``minimal`` (defaults left out) says what to add."""
    if isinstance(old, CommentedMap) and isinstance(full, dict):
        for key in list(old.keys()):
            if key not in full or (full[key] is None and key not in (minimal or {})):
                del old[key]
            else:
                old[key] = _merge(old[key], full[key], (minimal or {}).get(key))
        for key, value in (minimal or {}).items():
            if key not in old:
                old[key] = _plain(value)
        return old
    if isinstance(old, CommentedSeq) and isinstance(full, list | tuple):
        return _merge_seq(old, list(full), list(minimal or full))
    if isinstance(full, dict | list | tuple):
        return _plain(minimal if minimal is not None else full)
    return old if _same(old, full) else _plain(full)


def _merge_seq(old: CommentedSeq, full: list[Any], minimal: list[Any]) -> CommentedSeq:
    def key(item: Any) -> Any:
        return item.get("id") if isinstance(item, dict) else None

    by_id = {key(o): o for o in old if key(o) is not None}
    if by_id and all(key(f) is not None for f in full):
        items = [
            _merge(by_id[key(f)], f, m) if key(f) in by_id else _plain(m)
            for f, m in zip(full, minimal, strict=True)
        ]
    else:
        items = [
            _merge(old[i], f, m) if i < len(old) else _plain(m)
            for i, (f, m) in enumerate(zip(full, minimal, strict=True))
        ]
    if [id(i) for i in items] != [id(o) for o in old] or len(items) != len(old):
        old[:] = items  # keeps the sequence's own style; moved maps carry their comments
    return old


def render_preserving(original: str | None, cfg: SiteConfig, filename: str) -> str:
    """The YAML text for ``cfg``, built on ``original``'s comments and layout where it loads."""
    full = cfg.model_dump(mode="json")
    minimal = cfg.model_dump(mode="json", exclude_defaults=True)
    y = _yaml(original)
    tree: Any = None
    if original is not None:
        try:
            parse_config(original, filename)  # the hostile-input limits, before ruamel reads it
            tree = y.load(original)
        except ConfigError:
            tree = None  # a broken or refused file: rewritten from the model below
    tree = _merge(tree, full, minimal) if isinstance(tree, CommentedMap) else _plain(minimal)
    out = io.StringIO()
    y.dump(tree, out)
    return out.getvalue()
