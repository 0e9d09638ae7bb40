"""The run summary: merging (Ray chunks), rate, table and JSON."""

from __future__ import annotations

from cinefeat.extract.summary import Summary


def test_merge_rate_and_table() -> None:
    a = Summary(ok=3, failed=1, skipped=2, wall_s=10.0)
    a.stage_s["models"] = 6.0
    b = Summary(ok=1, wall_s=4.0, failures=[("x", "probe", "ProbeError: empty")])
    b.stage_s["models"] = 2.0
    b.stage_s["decode"] = 2.0
    a.merge(b)
    assert (a.ok, a.failed, a.skipped, a.processed) == (4, 1, 2, 5)
    assert a.trailers_per_hour == 5 / 10.0 * 3600
    lines = a.table().splitlines()
    assert lines[0] == "4 ok, 1 failed, 2 skipped in 10.0 s (1800 trailers/hour)"
    assert "models                  8.00     80%" in lines
    assert "decode                  2.00     20%" in lines
    data = a.to_dict(total=7)
    assert data["failures"] == [{"id": "x", "stage": "probe", "error": "ProbeError: empty"}]
    assert data["stage_s"]["models"] == 8.0
