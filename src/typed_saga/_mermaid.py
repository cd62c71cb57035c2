"""Mermaid flowcharts of a saga definition and of one run's report.

A definition becomes a top-down ``flowchart``: one box per step in run order,
a dashed edge from each step to the "undo" node of its compensation, steps
without a compensation labelled so, and each ``parallel`` group a subgraph
whose branches stand side by side. ``map`` stages are not steps and are left
out. A body is one box that says so: its steps are known only when it runs
(the picture of a run, from its report, shows them). A report becomes the
same picture coloured by what the run did to each step, with a legend.

Node ids are generated (``s0``, ``g1b0s2``, ...), never taken from step names,
and every label is escaped with Mermaid's ``#code;`` entities, so a step name
may contain quotes, brackets, ``<html>`` or any unicode without breaking the
diagram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from typed_saga._events import describe_error
from typed_saga._node import BodyNode, Group, Node
from typed_saga._report import SagaReport, StepOutcome, StepRecord

_Undo: TypeAlias = Literal["yes", "no", "unknown", "body"]

# Mermaid syntax and HTML, plus ":" because Mermaid pre-processes any line
# matching `style.*:\S*#.*;` (a step named "style: #1;" would lose a ";").
_ESCAPED: Final = frozenset('"#&<>[]{}()|`;:\\')
_ERROR_WIDTH: Final = 60
_INDENT: Final = "    "

_UNDO_STYLE: Final = "fill:#f3f4f6,stroke:#6b7280,color:#374151,stroke-dasharray:4 4"
_OUTCOME_STYLES: Final[dict[StepOutcome, str]] = {
    StepOutcome.SUCCEEDED: "fill:#dcfce7,stroke:#16a34a,color:#14532d",
    StepOutcome.FAILED: "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d,stroke-width:3px",
    StepOutcome.COMPENSATED: "fill:#dbeafe,stroke:#2563eb,color:#1e3a8a",
    StepOutcome.COMPENSATION_FAILED: (
        "fill:#991b1b,stroke:#450a0a,color:#ffffff,stroke-width:3px"
    ),
    StepOutcome.LEFT_UNCOMPENSATED: (
        "fill:#fef3c7,stroke:#d97706,color:#78350f,stroke-width:3px"
    ),
    StepOutcome.NOT_RUN: (
        "fill:#f3f4f6,stroke:#9ca3af,color:#6b7280,stroke-dasharray:4 4"
    ),
}
_UNDONE: Final = frozenset(
    {
        StepOutcome.COMPENSATED,
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.LEFT_UNCOMPENSATED,
    }
)


@dataclass(frozen=True, slots=True)
class _Item:
    """One box of the picture: a step, or a group with its branches."""

    name: str
    undo: _Undo
    branches: tuple[tuple[_Item, ...], ...] = ()
    outcome: StepOutcome | None = None
    error: object = None


def saga_diagram(nodes: Sequence[Node], name: str | None) -> str:
    """The flowchart of a saga definition (see :meth:`typed_saga.Saga.to_mermaid`)."""
    writer = _Writer(report=False)
    return writer.render(_from_nodes(nodes), name)


def report_diagram(report: SagaReport[object, object]) -> str:
    """The flowchart of one run (see :meth:`typed_saga.SagaReport.to_mermaid`)."""
    from returns.result import Success

    failed_run = not isinstance(report.result, Success)
    verdict = "failed" if failed_run else "succeeded"
    title = f"{report.name or 'saga'} {verdict}"
    writer = _Writer(report=True)
    return writer.render(_from_records(report.steps, failed_run=failed_run), title)


def escape(text: str) -> str:
    """``text`` made safe inside a quoted Mermaid label.

    Characters with a meaning to Mermaid or HTML become ``#code;`` entities,
    whitespace becomes a plain space, other non-printable characters are
    encoded too; letters of any script are kept as they are.

    >>> escape('say "hi" [now] <b>')
    'say #34;hi#34; #91;now#93; #60;b#62;'
    """
    out: list[str] = []
    for char in text:
        if char in _ESCAPED or not (char.isprintable() or char.isspace()):
            out.append(f"#{ord(char)};")
        elif char.isspace():
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _from_nodes(nodes: Sequence[Node]) -> tuple[_Item, ...]:
    items: list[_Item] = []
    for node in nodes:
        if node.hidden:
            continue
        if isinstance(node, Group):
            branches = tuple(_from_nodes(branch) for branch in node.branches)
            items.append(_Item(node.name, "unknown", branches))
        elif isinstance(node, BodyNode):
            items.append(_Item(node.name, "body"))
        else:
            items.append(_Item(node.name, "no" if node.compensate is None else "yes"))
    return tuple(items)


def _from_records(
    records: Sequence[StepRecord], *, failed_run: bool
) -> tuple[_Item, ...]:
    """A report knows only what the run did, so a compensation is drawn where the
    unwinding reached it; in a failed run a step that stayed ``succeeded`` had
    none to run."""
    items: list[_Item] = []
    for record in records:
        undo: _Undo = "unknown"
        if record.outcome in _UNDONE:
            undo = "yes"
        elif (
            failed_run
            and record.outcome is StepOutcome.SUCCEEDED
            and not record.branches
        ):
            undo = "no"
        branches = tuple(
            _from_records(branch, failed_run=failed_run) for branch in record.branches
        )
        items.append(_Item(record.name, undo, branches, record.outcome, record.error))
    return tuple(items)


class _Writer:
    """Accumulates the lines of one flowchart."""

    __slots__ = ("lines", "report")

    def __init__(self, *, report: bool) -> None:
        self.report = report
        self.lines: list[str] = []

    def render(self, items: tuple[_Item, ...], title: str | None) -> str:
        if title is not None:
            self.lines.extend(("---", f"title: {_yaml_string(title)}", "---"))
        self.lines.append("flowchart TD")
        self.chain(items, "", _INDENT)
        if self.report:
            self.legend()
            for outcome, style in _OUTCOME_STYLES.items():
                self.lines.append(f"{_INDENT}classDef {outcome} {style}")
        else:
            self.lines.append(f"{_INDENT}classDef undo {_UNDO_STYLE}")
        return "\n".join(self.lines) + "\n"

    def chain(self, items: tuple[_Item, ...], prefix: str, indent: str) -> None:
        """Declare ``items`` in order and link each to the next."""
        ids: list[str] = []
        for index, item in enumerate(items):
            if item.branches:
                node_id = f"{prefix}g{index}"
                self.group(item, node_id, indent)
            else:
                node_id = f"{prefix}s{index}"
                self.step(item, node_id, indent)
            ids.append(node_id)
        for index in range(1, len(ids)):
            ran = self.report and items[index].outcome is not StepOutcome.NOT_RUN
            arrow = "==>" if ran else "-->"
            self.lines.append(f"{indent}{ids[index - 1]} {arrow} {ids[index]}")

    def step(self, item: _Item, node_id: str, indent: str) -> None:
        if item.undo == "body":
            note = escape(
                "its steps are known only when it runs: "
                "draw a run with report.to_mermaid()"
            )
            label = f"body {escape(item.name)}<br/>{note}"
            self.lines.append(f'{indent}{node_id}[["{label}"]]')
            return
        label = escape(item.name)
        if item.undo == "no":
            label += "<br/>(no compensation)"
        elif item.outcome is StepOutcome.FAILED:
            label += "<br/>" + _error(item.error)
        self.lines.append(f'{indent}{node_id}["{label}"]{self.cls(item.outcome)}')
        if item.undo == "yes":
            undo = f"undo {escape(item.name)}"
            if item.outcome is StepOutcome.COMPENSATION_FAILED:
                undo += "<br/>" + _error(item.error)
            cls = ":::undo" if item.outcome is None else self.cls(item.outcome)
            self.lines.append(f'{indent}{node_id}u(["{undo}"]){cls}')
            self.lines.append(f"{indent}{node_id} -.-> {node_id}u")

    def group(self, item: _Item, node_id: str, indent: str) -> None:
        title = escape(item.name)
        if item.outcome is not None:
            title += ": " + str(item.outcome).replace("_", " ")
        self.lines.append(f'{indent}subgraph {node_id} ["{title}"]')
        for number, branch in enumerate(item.branches):
            self.chain(branch, f"{node_id}b{number}", indent + _INDENT)
        self.lines.append(f"{indent}end")

    def cls(self, outcome: StepOutcome | None) -> str:
        return "" if outcome is None else f":::{outcome}"

    def legend(self) -> None:
        self.lines.append(f'{_INDENT}subgraph legend ["legend"]')
        self.lines.append(f"{_INDENT * 2}direction LR")
        for outcome in StepOutcome:
            label = str(outcome).replace("_", " ")
            self.lines.append(f'{_INDENT * 2}legend_{outcome}["{label}"]:::{outcome}')
        self.lines.append(f"{_INDENT}end")


def _error(error: object) -> str:
    """A failure value or exception, short and escaped, for a label."""
    text = describe_error(error)
    if len(text) > _ERROR_WIDTH:
        text = text[: _ERROR_WIDTH - 3] + "..."
    return escape(text)


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar (the diagram's front-matter title)."""
    body = "".join(
        " " if not char.isprintable() else "\\" + char if char in '"\\' else char
        for char in text
    )
    return f'"{body}"'
