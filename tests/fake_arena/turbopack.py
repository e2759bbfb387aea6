"""The JS chunks of a Turbopack build (``FakeArena(turbopack=True)``, protocol §15.4).

The site is built with Turbopack (``globalThis.TURBOPACK``), and a client that looks for server
action ids with the usual ``createServerReference("<id>", ..., "<name>")`` pattern may find none.
What exactly the site's chunks look like was not recorded; this fake writes them the way
Turbopack's runtime format does, with the two changes that defeat that pattern:

* modules are factories pushed onto ``globalThis.TURBOPACK``, their exports registered by name
  with ``e.s(["name", () => local, ...])``;
* the imported ``createServerReference`` is reached through a mangled export (``(0,t.s)(...)``),
  and the page's actions are created without their name argument (the export table names them),
  the shared chunk's with it.
"""

from __future__ import annotations

from .deploy import Deploy
from .facts import PAGE_ACTIONS, RECAPTCHA_ACTION, SHARED_ACTIONS

_HEAD = '(globalThis.TURBOPACK||(globalThis.TURBOPACK=[])).push(["object"==typeof document?'
_LOCALS = "ijklmnop"


def _references(deploy: Deploy, names: tuple[str, ...], *, named: bool) -> str:
    """``let i=(0,t.s)("<id>",t.c,void 0,t.f[,"<name>"]),...;e.s([...])``."""
    calls = []
    for local, name in zip(_LOCALS, names, strict=False):
        tail = f',"{name}"' if named else ""
        calls.append(f'{local}=(0,t.s)("{deploy.action_ids[name]}",t.c,void 0,t.f{tail})')
    exports = ",".join(f'"{name}",()=>{local}' for local, name in zip(_LOCALS, names, strict=False))
    return f"let {','.join(calls)};e.s([{exports}]);"


def chunk_js(deploy: Deploy, role: str, site_key: str) -> str:
    """The text of one chunk of this deploy, as Turbopack writes it."""
    head = f"{_HEAD}document.currentScript:void 0,"
    if role == "page":
        body = (
            '52817,e=>{"use strict";var t=e.i(34477);'
            + _references(deploy, PAGE_ACTIONS, named=False)
            + "async function u(){return window.grecaptcha.enterprise.execute("
            f'"{site_key}",{{action:"{RECAPTCHA_ACTION}"}})}}}}'
        )
    elif role == "shared":
        body = (
            '30293,e=>{"use strict";var t=e.i(34477);'
            + _references(deploy, SHARED_ACTIONS, named=True)
            + "}"
        )
    else:
        body = f'{10000 + sum(map(ord, role))},e=>{{"use strict";e.s(["role",()=>"{role}"])}}'
    return head + body + "]);\n"


__all__ = ["chunk_js"]
