"""``python -m tests.helpers.stand_in_kept``: a kept server on the browser's stand-in.

What :mod:`tests.helpers.stand_in_lmarena` starts in place of ``python -m
lmarena_cli.server.kept``: the real kept server, handed :class:`tests.fakes.HttpBrowser`.
"""

from __future__ import annotations

from lmarena_cli.client.factory import use_browser
from lmarena_cli.server.kept import main
from tests.fakes import HttpBrowser


def run() -> None:
    use_browser(HttpBrowser)
    main()


if __name__ == "__main__":
    run()
