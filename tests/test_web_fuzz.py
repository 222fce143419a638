"""Fuzz the API from its own OpenAPI schema: whatever comes in, no 500s and no stack traces out.

Every operation gets a few positive and a few negative (schema-violating) examples, sent with the
token of a role that is allowed to call it (so the handlers, not the role check, see the input).
Kept small so the whole run stays around a minute on two cores.
"""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from oversight.web.app import create_app, iter_routes, route_roles  # noqa: E402
from web_support import make_ctx, tokens  # noqa: E402

STREAMS = r"\.mjpeg$"  # endless responses; covered by the API and browser tests
EXAMPLES = 5


def test_api_survives_fuzzing(db, tmp_path):
    ctx = make_ctx(db, tmp_path)
    try:
        app = create_app(ctx)
        toks = tokens(db)
        allowed = {
            (m, p): route_roles(r) for p, r in iter_routes(app) for m in (getattr(r, "methods", None) or ())
        }
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=STREAMS)
        failures: list[str] = []
        statuses: dict[int, int] = {}
        operations = 0
        roles_by_label: dict[str, str] = {}
        for result in schema.get_all_operations():
            op = result.ok()
            operations += 1
            roles = allowed.get((op.method.upper(), op.path)) or ("admin",)
            role = "supervisor" if "supervisor" in roles else roles[0]  # someone allowed to do it
            roles_by_label[op.label] = role
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = op.as_strategy(generation_mode=mode)

                @given(case=strategy)
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                def run(case: Any) -> None:
                    role = roles_by_label[case.operation.label]
                    where = f"{role} {case.method} {case.formatted_path}"
                    try:
                        response = case.call(headers={"Authorization": f"Bearer {toks[role]}"})
                    except (
                        Exception
                    ) as exc:  # the in-process transport re-raises what a server turns into a 500
                        failures.append(f"{where}: 500 ({type(exc).__name__}: {exc})")
                        return
                    body = response.text
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code >= 500:
                        failures.append(f"{where}: {response.status_code} {body[:200]}")
                    if "Traceback" in body or 'File "' in body:
                        failures.append(f"{where}: stack trace in the response")

                try:
                    run()
                except Unsatisfiable:  # nothing to violate (e.g. no parameters): no negative cases
                    continue
        assert operations >= 30
        print("fuzz statuses:", dict(sorted(statuses.items())))
        past_auth = sum(n for code, n in statuses.items() if code not in (401, 403))
        assert past_auth > 0.8 * sum(statuses.values())  # the input reached the handlers
        assert not failures, "\n".join(sorted(set(failures))[:30])
    finally:
        ctx.runtime.stop()
