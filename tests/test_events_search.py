"""One event search: the API's cursor pages and ``search_events``' id pages are the same query.

Events share start times (ties broken by id), so a second, different keyset would show up here
as a missing or repeated event, or another order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oversight.events.search import search_events
from oversight.store.models import Event
from web_support import client, make_ctx, tokens

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_api_pages_and_search_events_pages_agree(db, tmp_path):
    ctx = make_ctx(db, tmp_path, runtime=False)
    with db.session() as s:
        for i in range(47):
            s.add(
                Event(
                    camera_id=f"cam{i % 2}",
                    label="person",
                    rule_type="zone",
                    start=T0 + timedelta(seconds=i // 3),  # three events per start time
                    confidence=0.8,
                    data={},
                )
            )
    auth = {"Authorization": f"Bearer {tokens(db, ('auditor',))['auditor']}"}
    c = client(ctx)
    by_api: list[int] = []
    cursor = None
    while True:
        params = {"limit": 10, "camera": "cam1", **({"cursor": cursor} if cursor else {})}
        page = c.get("/api/events", params=params, headers=auth).json()
        by_api += [e["id"] for e in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    by_ids: list[int] = []
    with db.session() as s:
        while True:
            rows = search_events(s, camera_id="cam1", limit=10, before_id=by_ids[-1] if by_ids else None)
            if not rows:
                break
            by_ids += [e.id for e in rows]
    assert len(by_api) == 23 == len(set(by_api))
    assert by_api == by_ids
    assert c.get("/api/events", params={"cursor": "not-a-cursor"}, headers=auth).status_code == 422
