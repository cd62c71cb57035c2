"""``Saga.to_mermaid()``, ``AsyncSaga.to_mermaid()`` and ``SagaReport.to_mermaid()``.

Golden strings: the exact text is the contract (it is what users paste into
their docs and tickets). Each golden was also checked with the real Mermaid 11
parser when it was written; ``check_syntax`` below re-checks the shapes every
line may take, so a hostile step name cannot smuggle syntax in.
"""

from __future__ import annotations

import re

import anyio
import pytest
from returns.result import Failure, Result, Success

from typed_saga import (
    AsyncSaga,
    Saga,
    SagaReport,
    StepOutcome,
    StepRecord,
    parallel,
    step,
)


def allocate_quota(request: str) -> Result[str, str]:
    return Success("quota-1")


def release_quota(quota: str) -> Result[None, str]:
    return Success(None)


def create_network(quota: str) -> Result[str, str]:
    return Success("net-1")


def delete_network(network: str) -> Result[None, str]:
    return Success(None)


def create_server(network: str) -> Result[str, str]:
    return Failure("no capacity in zone-b")


async def create_network_async(quota: str) -> Result[str, str]:
    return Success("net-1")


async def create_disk(quota: str) -> Result[str, str]:
    return Success("disk-1")


def delete_disk(disk: str) -> Result[None, str]:
    return Success(None)


def attach_ip(network: str) -> Result[str, str]:
    return Success("ip-1")


def server_from(resources: tuple[str, str]) -> Result[str, str]:
    return Failure("no capacity in zone-b")


def provision() -> Saga[str, str, str]:
    return (
        step("allocate quota", allocate_quota, compensate=release_quota)
        .then(step("create network", create_network, compensate=delete_network))
        .then(step("create server", create_server))
        .map(str.upper)  # a map stage is not a step: not drawn
        .named("provision")
    )


def provision_in_parallel() -> AsyncSaga[str, str, str]:
    return (
        step("allocate quota", allocate_quota, compensate=release_quota)
        .then(
            parallel(
                step("create network", create_network_async, delete_network).then(
                    step("attach ip", attach_ip)
                ),
                step("create disk", create_disk, compensate=delete_disk),
                name="resources",
            )
        )
        .then(step("create server", server_from))
    )


UNDO_STYLE = (
    "    classDef undo fill:#f3f4f6,stroke:#6b7280,color:#374151,stroke-dasharray:4 4\n"
)
LEGEND = """\
    subgraph legend ["legend"]
        direction LR
        legend_succeeded["succeeded"]:::succeeded
        legend_failed["failed"]:::failed
        legend_compensated["compensated"]:::compensated
        legend_compensation_failed["compensation failed"]:::compensation_failed
        legend_left_uncompensated["left uncompensated"]:::left_uncompensated
        legend_not_run["not run"]:::not_run
    end
    classDef succeeded fill:#dcfce7,stroke:#16a34a,color:#14532d
    classDef failed fill:#fee2e2,stroke:#dc2626,color:#7f1d1d,stroke-width:3px
    classDef compensated fill:#dbeafe,stroke:#2563eb,color:#1e3a8a
    classDef compensation_failed fill:#991b1b,stroke:#450a0a,color:#ffffff,stroke-width:3px
    classDef left_uncompensated fill:#fef3c7,stroke:#d97706,color:#78350f,stroke-width:3px
    classDef not_run fill:#f3f4f6,stroke:#9ca3af,color:#6b7280,stroke-dasharray:4 4
"""


def test_sequential_saga() -> None:
    assert provision().to_mermaid() == (
        """\
---
title: "provision"
---
flowchart TD
    s0["allocate quota"]
    s0u(["undo allocate quota"]):::undo
    s0 -.-> s0u
    s1["create network"]
    s1u(["undo create network"]):::undo
    s1 -.-> s1u
    s2["create server<br/>(no compensation)"]
    s0 --> s1
    s1 --> s2
"""
        + UNDO_STYLE
    )


def test_async_saga_draws_like_a_sync_one() -> None:
    saga = step("allocate quota", allocate_quota, compensate=release_quota).then(
        step("create network", create_network_async, compensate=delete_network)
    )
    assert isinstance(saga, AsyncSaga)
    assert saga.to_mermaid() == (
        """\
flowchart TD
    s0["allocate quota"]
    s0u(["undo allocate quota"]):::undo
    s0 -.-> s0u
    s1["create network"]
    s1u(["undo create network"]):::undo
    s1 -.-> s1u
    s0 --> s1
"""
        + UNDO_STYLE
    )


def test_parallel_group_is_a_subgraph_with_branches_side_by_side() -> None:
    assert provision_in_parallel().to_mermaid() == (
        """\
flowchart TD
    s0["allocate quota"]
    s0u(["undo allocate quota"]):::undo
    s0 -.-> s0u
    subgraph g1 ["resources"]
        g1b0s0["create network"]
        g1b0s0u(["undo create network"]):::undo
        g1b0s0 -.-> g1b0s0u
        g1b0s1["attach ip<br/>(no compensation)"]
        g1b0s0 --> g1b0s1
        g1b1s0["create disk"]
        g1b1s0u(["undo create disk"]):::undo
        g1b1s0 -.-> g1b1s0u
    end
    s2["create server<br/>(no compensation)"]
    s0 --> g1
    g1 --> s2
"""
        + UNDO_STYLE
    )


def test_nested_groups_nest_their_subgraphs() -> None:
    inner = parallel(step("a", attach_ip), step("b", attach_ip), name="inner")
    saga = parallel(inner, step("c", attach_ip), name="outer")
    text = saga.to_mermaid()
    assert 'subgraph s0 ["outer"]' not in text
    assert '    subgraph g0 ["outer"]\n        subgraph g0b0g0 ["inner"]\n' in text
    assert '            g0b0g0b1s0["b<br/>(no compensation)"]\n' in text
    check_syntax(text)


def test_failed_run_report() -> None:
    report = provision().run_with_report("req")
    assert report.to_mermaid() == (
        """\
---
title: "provision failed"
---
flowchart TD
    s0["allocate quota"]:::compensated
    s0u(["undo allocate quota"]):::compensated
    s0 -.-> s0u
    s1["create network"]:::compensated
    s1u(["undo create network"]):::compensated
    s1 -.-> s1u
    s2["create server<br/>'no capacity in zone-b'"]:::failed
    s0 ==> s1
    s1 ==> s2
"""
        + LEGEND
    )


def test_report_with_every_outcome() -> None:
    def broken_undo(network: str) -> Result[None, str]:
        return Failure("api down")

    saga = (
        step("validate", allocate_quota)
        .then(step("allocate quota", allocate_quota, compensate=release_quota))
        .then(step("create network", create_network, compensate=broken_undo))
        .then(step("create server", create_server))
        .then(step("notify", attach_ip))
    )
    report = saga.run_with_report("req")  # policy "stop"
    assert report.to_mermaid() == (
        """\
---
title: "saga failed"
---
flowchart TD
    s0["validate<br/>(no compensation)"]:::succeeded
    s1["allocate quota"]:::left_uncompensated
    s1u(["undo allocate quota"]):::left_uncompensated
    s1 -.-> s1u
    s2["create network"]:::compensation_failed
    s2u(["undo create network<br/>'api down'"]):::compensation_failed
    s2 -.-> s2u
    s3["create server<br/>'no capacity in zone-b'"]:::failed
    s4["notify"]:::not_run
    s0 ==> s1
    s1 ==> s2
    s2 ==> s3
    s3 --> s4
"""
        + LEGEND
    )


def test_parallel_run_report_colours_the_branches(backend: str) -> None:
    async def main() -> SagaReport[str, str]:
        return await provision_in_parallel().run_with_report("req")

    text = anyio.run(main, backend=backend).to_mermaid()
    assert text.startswith(
        """\
---
title: "saga failed"
---
flowchart TD
    s0["allocate quota"]:::compensated
    s0u(["undo allocate quota"]):::compensated
    s0 -.-> s0u
    subgraph g1 ["resources: compensated"]
        g1b0s0["create network"]:::compensated
        g1b0s0u(["undo create network"]):::compensated
        g1b0s0 -.-> g1b0s0u
        g1b0s1["attach ip<br/>(no compensation)"]:::succeeded
        g1b0s0 ==> g1b0s1
        g1b1s0["create disk"]:::compensated
        g1b1s0u(["undo create disk"]):::compensated
        g1b1s0 -.-> g1b1s0u
    end
    s2["create server<br/>'no capacity in zone-b'"]:::failed
    s0 ==> g1
    g1 ==> s2
"""
    )
    check_syntax(text)


def test_succeeded_run_report() -> None:
    saga = step("allocate quota", allocate_quota, release_quota).named("quota")
    assert saga.run_with_report("req").to_mermaid() == (
        """\
---
title: "quota succeeded"
---
flowchart TD
    s0["allocate quota"]:::succeeded
"""
        + LEGEND
    )


def test_exceptions_and_long_errors_are_shortened() -> None:
    error = ValueError("x" * 100)
    report = SagaReport(Failure(error), (StepRecord("b", StepOutcome.FAILED, error),))
    line = report.to_mermaid().splitlines()[4]
    assert line == f'    s0["b<br/>ValueError#58; {"x" * 45}..."]:::failed'


# -- hostile names -----------------------------------------------------------

HOSTILE = [
    'say "hi"',
    "close] bracket",
    "[open",
    "a --> b",
    "end",
    "graph TD; click s0 call alert()",
    "<script>alert(1)</script>",
    "#quot; entity #35; &amp;",
    "`markdown` **bold**",
    "{curly} (round) |pipe|",
    "style: x #1;",
    "multi line  double spaced",
    "naïve ünïcode → ✓ 日本語 🚀",
    "zero\u200bwidth",
    "back\\slash",
]

# The only shapes a line may take (ids are generated: [a-z0-9_]).
_ID = r"(?:[sg]\d+(?:b\d+[sg]\d+)*u?|legend(?:_[a-z_]+)?)"
_CLASS = r"(?:undo|succeeded|failed|compensated|compensation_failed|left_uncompensated|not_run)"
_LABEL = r'"(?:[^"#\[\]<>]|#\d+;|<br/>)*"'
LINE_SHAPES = [
    r"---|title: .*|flowchart TD|end|direction LR",
    rf"{_ID}\[{_LABEL}\](?::::{_CLASS})?",
    rf"{_ID}\(\[{_LABEL}\]\)(?::::{_CLASS})?",
    rf"{_ID} (?:-->|==>|-\.->) {_ID}",
    rf"subgraph {_ID} \[{_LABEL}\]",
    rf"classDef {_CLASS} [a-z-]+:[^;\s]+(?:,[a-z-]+:[^;]+)*",
]


def check_syntax(text: str) -> None:
    """Every line has one of the known shapes; labels hold no raw syntax."""
    assert text.endswith("\n")
    for line in text.splitlines():
        stripped = line.strip()
        assert any(re.fullmatch(shape, stripped) for shape in LINE_SHAPES), line


def test_hostile_step_names_stay_inside_their_labels() -> None:
    saga: Saga[str, str, str] = step(HOSTILE[0], allocate_quota, release_quota)
    for name in HOSTILE[1:]:
        saga = saga.then(step(name, attach_ip, release_quota))
    saga = saga.named('"]; evil: title ---')
    text = saga.to_mermaid()

    check_syntax(text)
    lines = text.splitlines()
    assert lines[:4] == ["---", 'title: "\\"]; evil: title ---"', "---", "flowchart TD"]
    node_lines = [line for line in lines if line.startswith("    s") and "[" in line]
    assert len(node_lines) == 2 * len(HOSTILE)  # one step and one undo node each
    assert node_lines[0] == '    s0["say #34;hi#34;"]'
    assert node_lines[2] == '    s1["close#93; bracket"]'
    assert node_lines[12] == ('    s6["#60;script#62;alert#40;1#41;#60;/script#62;"]')
    assert node_lines[20] == '    s10["style#58; x #35;1#59;"]'
    assert node_lines[22] == '    s11["multi line  double spaced"]'
    assert node_lines[24] == '    s12["naïve ünïcode → ✓ 日本語 🚀"]'  # unicode kept
    assert node_lines[26] == '    s13["zero#8203;width"]'


def test_names_with_line_breaks_or_control_characters_are_refused() -> None:
    # a newline in a name would forge rows in reports and lines in logs
    for name in ("multi\nline", "tab\there", "bell\x07", "cr\r", "ls\u2028"):
        with pytest.raises(ValueError, match="one line of printable text"):
            step(name, allocate_quota)
        with pytest.raises(ValueError, match="one line of printable text"):
            step("ok", allocate_quota).named(name)


def test_hostile_names_and_errors_in_a_report() -> None:
    def fail(value: str) -> Result[str, str]:
        return Failure('"]; click s0 evil')

    saga = step('undo "me"]', allocate_quota, release_quota).then(
        step("<b>x</b>", fail)
    )
    text = saga.run_with_report("req").to_mermaid()
    check_syntax(text)
    assert '    s0u(["undo undo #34;me#34;#93;"]):::compensated' in text
    assert (
        "    s1[\"#60;b#62;x#60;/b#62;<br/>'#34;#93;#59; click s0 evil'\"]:::failed"
        in text
    )


def test_check_syntax_rejects_what_would_break_mermaid() -> None:
    for bad in (
        'flowchart TD\n    s0["a "quoted" name"]\n',
        'flowchart TD\n    s0["a ] name"]\n',
        'flowchart TD\n    s0["<b>"]\n',
        "flowchart TD\n    s0 --> end\n",
        "flowchart TD\n    s0 --> s1 & evil\n",
        'flowchart TD\n    s0["a"]:::evil;click\n',
    ):
        try:
            check_syntax(bad)
        except AssertionError:
            continue
        raise AssertionError(f"check_syntax accepted {bad!r}")
