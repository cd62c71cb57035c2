"""The documentation site: it builds with ``mkdocs build --strict`` (with no
network, where the machine allows it, as in CI), every page loads its
scripts and styles from the site itself, and a real headless Chromium draws
the Mermaid diagrams as SVG, offline.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` and
``make test`` install it when they run as root). The test drives it over the
DevTools protocol, because Material for MkDocs puts each drawn diagram in a
*closed* shadow root, which ``--dump-dom`` does not show but the protocol's
``DOM.getDocument(pierce=True)`` does.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import websocket

import typed_saga
import typed_saga.testing
from tests.markdown_examples import ROOT, blocks

MERMAID_JS = ROOT / "docs" / "assets" / "vendor" / "mermaid.min.js"
PICTURES = ROOT / "docs" / "how-to" / "pictures.md"
BODIES = ROOT / "docs" / "how-to" / "bodies.md"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # nothing but this machine: a page that tried to fetch from elsewhere fails
    # at once, without a packet leaving
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module with --strict (any warning fails)."""
    assert MERMAID_JS.is_file(), (
        f"{MERMAID_JS.relative_to(ROOT)} is missing: run `bash "
        "scripts/fetch_mermaid.sh` (make test and make docs run it)"
    )
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [
            *_offline(),
            sys.executable,
            *("-m", "mkdocs", "build", "--strict", "--site-dir", str(out)),
        ],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "WARNING" not in build.stderr, build.stderr
    return out


def _offline() -> list[str]:
    """A prefix that runs a command with no network at all (a new network
    namespace), where this machine allows it: as root, as CI runs. The build
    then cannot download anything, and would fail if it tried."""
    for prefix in (["unshare", "--net"], ["unshare", "--net", "--map-root-user"]):
        with contextlib.suppress(OSError):
            probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
            if probe.returncode == 0:
                return prefix
    return []


class _Assets(HTMLParser):
    """The URLs a page loads by itself: scripts, stylesheets, images, fonts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("script", "img") and found.get("src"):
            self.urls.append(found["src"] or "")
        rel = (found.get("rel") or "").split()
        if tag == "link" and {"stylesheet", "preload", "preconnect"} & set(rel):
            self.urls.append(found.get("href") or "")


def test_every_page_loads_only_its_own_assets(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 15
    remote = {}
    for page in pages:
        parser = _Assets()
        parser.feed(page.read_text(encoding="utf-8"))
        outside = [url for url in parser.urls if re.match(r"^(https?:)?//", url)]
        if outside:
            remote[str(page.relative_to(site))] = outside
    assert remote == {}


def test_reference_and_included_pages_are_generated(site: Path) -> None:
    """The reference documents every public name; included files are there."""
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    public = [f"typed_saga.{name}" for name in typed_saga.__all__]
    public += [f"typed_saga.testing.{name}" for name in typed_saga.testing.__all__]
    public += ["typed_saga.otel.OpenTelemetryListener"]
    missing = [name for name in public if f'id="{name}"' not in reference]
    assert missing == []
    assert ":class:" not in reference  # roles are turned into code
    performance = (site / "performance" / "index.html").read_text(encoding="utf-8")
    headings = re.findall(
        r"^## (.+)$", (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8"), re.M
    )
    assert headings
    for heading in headings:  # BENCHMARKS.md is included, every section of it
        text = re.sub(r"`([^`]*)`", r"<code>\1</code>", heading)
        assert text in performance, heading
    changelog = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "Unreleased" in changelog
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "In process, it is best-effort" in home  # the README's limits, included


# -- the browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The site on a loopback port, in a thread, for the length of the module."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class DevTools:
    """The smallest DevTools-protocol client: commands in, results and events out."""

    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self.next_id = 0

    def __call__(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message: dict[str, Any] = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result
            self.events.append(message)

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """A fresh headless Chromium with its own profile, and a client for its tab."""
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if binary is None:
        pytest.fail(
            "Chromium is not installed: `apt-get install -y chromium` (bash .ci/run "
            "and make test do it when run as root), or set CHROMIUM=/path/to/it"
        )
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, "Chromium exited at start"
            assert time.monotonic() < deadline, "Chromium did not open its port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as reply:
            targets = json.load(reply)
        page = next(target for target in targets if target["type"] == "page")
        client = DevTools(page["webSocketDebuggerUrl"])
        yield client
    finally:
        if client is not None:
            client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for key in ("children", "shadowRoots"):
        for child in node.get(key, ()):
            yield from _walk(child)
    if "contentDocument" in node:
        yield from _walk(node["contentDocument"])


def _classes(node: dict[str, Any]) -> set[str]:
    attributes = node.get("attributes", [])
    pairs = dict(zip(attributes[::2], attributes[1::2], strict=True))
    return set(pairs.get("class", "").split())


def _text(node: dict[str, Any]) -> str:
    return " ".join(
        n.get("nodeValue", "") for n in _walk(node) if n.get("nodeType") == 3
    )


def _diagrams(devtools: DevTools) -> tuple[list[dict[str, Any]], list[str]]:
    """(the <svg> drawn in each div.mermaid's shadow root, the Mermaid sources
    still shown as text in a <pre>)."""
    document = devtools("DOM.getDocument", depth=-1, pierce=True)["root"]
    drawn: list[dict[str, Any]] = []
    shown: list[str] = []
    for node in _walk(document):
        if node.get("localName") == "pre" and "flowchart TD" in _text(node):
            shown.append(_text(node)[:60])
        if node.get("localName") == "div" and "mermaid" in _classes(node):
            for root in node.get("shadowRoots", ()):
                drawn += [n for n in _walk(root) if n.get("localName") == "svg"][:1]
    return drawn, shown


def _wait_for_diagrams(
    devtools: DevTools, count: int, seconds: float
) -> tuple[list[dict[str, Any]], list[str]]:
    deadline = time.monotonic() + seconds
    drawn, shown = _diagrams(devtools)
    while len(drawn) < count and time.monotonic() < deadline:
        time.sleep(0.25)
        drawn, shown = _diagrams(devtools)
    return drawn, shown


def test_mermaid_diagrams_render_as_svg_offline(served: str, browser: DevTools) -> None:
    sources = [b for b in blocks(PICTURES) if b.language == "mermaid"]
    assert len(sources) == 2
    browser("Network.enable")
    browser("Page.enable")
    browser("Page.navigate", url=f"{served}/how-to/pictures/")
    drawn, shown = _wait_for_diagrams(browser, len(sources), seconds=30)
    assert len(drawn) == len(sources), f"{len(drawn)} drawn; as text: {shown}"
    assert shown == []  # no diagram left as source text
    # the pictures are of our sagas: their step names are in the drawings
    assert "undo create network" in _text(drawn[0])
    assert "compensation failed" in _text(drawn[1])  # the run's legend
    requested = [
        event["params"]["request"]["url"]
        for event in browser.events
        if event.get("method") == "Network.requestWillBeSent"
    ]
    assert any(url.endswith("/assets/vendor/mermaid.min.js") for url in requested)
    outside = [u for u in requested if not u.startswith((served, "data:", "blob:"))]
    assert outside == []


def test_the_pictures_of_a_body_render_too(served: str, browser: DevTools) -> None:
    """A body's definition is one box whose label Mermaid must accept (its
    colon and brackets are escaped); its run is drawn step by step."""
    sources = [b for b in blocks(BODIES) if b.language == "mermaid"]
    assert len(sources) == 2
    browser("Page.enable")
    browser("Page.navigate", url=f"{served}/how-to/bodies/")
    drawn, shown = _wait_for_diagrams(browser, len(sources), seconds=30)
    assert len(drawn) == len(sources), f"{len(drawn)} drawn; as text: {shown}"
    assert shown == []
    assert "its steps are known only when it runs" in _text(drawn[0])
    assert "undo reserve hotel" in _text(drawn[1])


def test_the_check_sees_a_diagram_that_is_not_drawn(
    served: str, browser: DevTools, site: Path
) -> None:
    """The same page with a Mermaid that never finishes drawing keeps its
    sources as text, and the check above sees it."""
    html = (site / "how-to" / "pictures" / "index.html").read_text(encoding="utf-8")
    stalled = html.replace(
        '<script src="../../assets/vendor/mermaid.min.js"></script>',
        "<script>var mermaid = {initialize() {}, render() {"
        " return new Promise(() => {}); }};</script>",
    )
    assert stalled != html
    (site / "how-to" / "stalled.html").write_text(stalled, encoding="utf-8")
    browser("Page.enable")
    browser("Page.navigate", url=f"{served}/how-to/stalled.html")
    drawn, shown = _wait_for_diagrams(browser, 2, seconds=3)
    assert drawn == []
    assert len(shown) == 2
