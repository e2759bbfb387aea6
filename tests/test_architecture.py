"""The import contract: the package's layers import only downward, and no modules import each other.

Layers, lowest first (docs/architecture.md draws them):

    base      settings.py, errors.py,         nothing of the package
              error_codes.py
    site      site/                           base only: pure facts and parsing, no I/O
    state     state/                          base, site
    browser   browser/                        base, site, state
    client    client/                         everything below
    front     cli/, server/                   everything below; server never imports cli

Inside ``client/``, its parts are layered the same way (:data:`CLIENT_RANK`, lowest first): the
reply's data, how requests leave (``transport/``), what goes into a prompt (``content/``), the
site's side of a client (``session/``) beside the kept server's client (``kept/``), one turn
(``turn/``), one conversation (``conversation/``), and ``Client`` with its factory on top.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a lazy import is
still a dependency. ``scripts/check`` runs this file too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lmarena_cli"
MAX_LINES = 400

RANK = {
    "settings": 0,
    "errors": 0,
    "error_codes": 0,
    "site": 1,
    "state": 2,
    "browser": 3,
    "client": 4,
}
FRONT = {"cli", "server"}
#: The parts of client/ (a subpackage or a top-level module), lowest first: a part imports only
#: parts of a lower rank (``kept`` and ``session`` are peers: neither imports the other).
CLIENT_RANK = {
    "reply": 0,
    "transport": 1,
    "api": 1,
    "content": 2,
    "kept": 3,
    "session": 3,
    "turn": 4,
    "conversation": 5,
    "client": 6,
    "factory": 7,
}
#: Front ends may use each other only this way round: `lmarena serve` starts the server.
ALLOWED_ACROSS = {("cli", "server")}


def modules() -> dict[str, Path]:
    """Dotted name (without the package prefix) -> file, e.g. ``client.http``."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[tuple[int, str]]:
    """The package modules ``name`` imports, as (line, dotted name)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if name else []
    base = here if is_package else here[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = [*parent, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == PACKAGE.name:
                target = node.module.split(".")[1:]
            else:
                continue
            stem = ".".join(target)
            for alias in node.names:
                full = f"{stem}.{alias.name}" if stem else alias.name
                yield node.lineno, full if full in known else stem
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE.name:
                    yield node.lineno, ".".join(parts[1:])


def layer(name: str) -> str:
    return name.split(".")[0]


def test_every_module_belongs_to_a_layer() -> None:
    top_level = {"", "__main__"}  # the package's lazy re-exports and `python -m lmarena_cli`
    strays = [
        name
        for name in modules()
        if name not in top_level and layer(name) not in RANK and layer(name) not in FRONT
    ]
    assert strays == [], f"modules outside the layers of docs/architecture.md: {strays}"


def test_layers_import_only_downward() -> None:
    known = set(modules())
    wrong = []
    for name, path in modules().items():
        if name in ("", "__main__"):
            continue
        mine = layer(name)
        for line, target in imports_of(name, path, known):
            theirs = layer(target)
            if target == "":
                # The root holds __version__ and lazy re-exports of the library: front ends only.
                if mine not in FRONT:
                    wrong.append(f"{name}:{line} imports the package root")
                continue
            if theirs == mine:
                continue
            if mine in FRONT:
                ok = theirs in RANK or (mine, theirs) in ALLOWED_ACROSS
            else:
                ok = theirs in RANK and RANK[theirs] < RANK[mine]
                # settings and errors are one layer but settings may raise errors' ConfigError,
                # and errors carries error_codes' codes.
                ok = ok or (mine, theirs) in {("settings", "errors"), ("errors", "error_codes")}
            if not ok:
                wrong.append(f"{name}:{line} imports {target}")
    assert wrong == [], "imports against the layers:\n" + "\n".join(wrong)


def client_part(name: str) -> str | None:
    """``client.turn.flow`` -> ``turn``; None outside client/."""
    parts = name.split(".")
    return parts[1] if parts[0] == "client" and len(parts) > 1 else None


def test_every_module_of_the_client_belongs_to_a_part() -> None:
    strays = [n for n in modules() if (part := client_part(n)) and part not in CLIENT_RANK]
    assert strays == [], f"client modules outside the parts of CLIENT_RANK: {strays}"


def test_the_parts_of_the_client_import_only_downward() -> None:
    known = set(modules())
    wrong = []
    for name, path in modules().items():
        mine = client_part(name)
        if mine is None or mine not in CLIENT_RANK:
            continue
        for line, target in imports_of(name, path, known):
            theirs = client_part(target)
            if theirs is None or theirs == mine or theirs not in CLIENT_RANK:
                continue
            if CLIENT_RANK[theirs] >= CLIENT_RANK[mine]:
                wrong.append(f"{name}:{line} imports {target}")
    assert wrong == [], "imports against the client's parts:\n" + "\n".join(wrong)


def test_no_import_cycles_between_modules() -> None:
    known = set(modules())
    graph = {
        name: {t for _, t in imports_of(name, path, known) if t in known and t != name}
        for name, path in modules().items()
    }
    # A package's __init__ that re-exports its modules is not a cycle with them.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".") and t != ""}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_at_most_400_lines(name: str) -> None:
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; cut it along its jobs"


def test_the_contract_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    """The checker itself: a made-up upward import is found, so a pass means something."""
    fake = tmp_path / "mod.py"
    fake.write_text(
        "from ..client.http import SiteHttp\nfrom . import facts\nimport lmarena_cli.cli.app\n"
    )
    found = [t for _, t in imports_of("site.mod", fake, {"client.http", "site.facts", "cli.app"})]
    assert found == ["client.http", "site.facts", "cli.app"]
