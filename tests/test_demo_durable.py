"""The demo's durable scene (``python -m typed_saga``, Scene 4): a real child
process killed with SIGKILL mid-run, and a second one finishing the rollback;
what it prints is true of the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from typed_saga import _demo_durable
from typed_saga._demo import Cloud, Request, provisioning_saga

pytest.importorskip("dbos", reason="the dbos extra is not installed")


def test_the_scene_kills_a_process_and_the_next_one_rolls_back(tmp_path: Path) -> None:
    said: list[str] = []
    path = tmp_path / "cloud.sqlite3"
    with Cloud.open(path) as cloud:
        provisioning_saga(cloud).run(
            Request("acme", 4, "10.0.1.0/24", "web-1", "zone-a")
        )
        before = cloud.snapshot()
        ok = _demo_durable.scene(cloud, path, tmp_path, said.append, said.append)
        after = cloud.snapshot()
    text = "\n".join(said)
    assert ok, text
    assert after == before
    first = text[text.index("Process 1 (pid") : text.index("Rows after process 1 died")]
    assert "-> quotas:   inserted row 2 (4 CPUs)" in first
    assert "-> networks: inserted row 2 (10.0.4.0/24)" in first
    assert "... killed with SIGKILL" in first
    second = text[text.index("Process 2 (a new") : text.index("Rows after process 2")]
    # the recorded steps were not run again; the one in flight was, then the undo
    assert "inserted" not in second
    assert second.splitlines()[2:5] == [
        "    -> servers:  refused (no capacity in zone-b)",
        "    <- networks: deleted row 2",
        "    <- quotas:   deleted row 2",
    ]
    crashed = text[
        text.index("Rows after process 1 died") : text.index("Process 2 (a new")
    ]
    assert "10.0.4.0/24" in crashed  # the leak a best-effort run would have left
