"""A griffe extension for the API reference: our docstrings are reStructuredText
flavoured (``:class:`Saga```, ``>>>`` examples), MkDocs renders Markdown.

* ``:class:`~typed_saga.Saga``` and the other Sphinx roles become ``Saga`` in
  code type (the text after the last dot when the target starts with ``~``);
* each run of ``>>>`` / ``...`` lines with the output under it becomes a fenced
  ``pycon`` block, so examples render as code, not as a paragraph (without
  their ``# doctest:`` directives, which are for the test runner).

Loaded by mkdocstrings (``extensions`` in mkdocs.yml); the source is unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_DOCTEST_DIRECTIVE = re.compile(r"\s+# doctest: \S.*$")
_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"``{target.rsplit('.', 1)[-1] if short else target}``"


def markdown(docstring: str) -> str:
    """The docstring with roles replaced and doctest runs fenced.

    >>> print(markdown(":class:`~a.Saga` and :meth:`run`"))
    ``Saga`` and ``run``
    """
    lines = _ROLE.sub(_role, docstring).split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block: list[str] = []
        while index < len(lines) and lines[index].strip():
            line = _DOCTEST_DIRECTIVE.sub("", lines[index])
            block.append(line.removeprefix(indent))
            index += 1
        out.extend([f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"])
    return "\n".join(out)


class DocstringsToMarkdown(Extension):
    """Rewrite every docstring once the object is created."""

    def on_instance(
        self, *, node: object, obj: Object, agent: object, **kwargs: Any
    ) -> None:
        del node, agent, kwargs
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)


__all__ = ("DocstringsToMarkdown", "markdown")
