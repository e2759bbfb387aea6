"""``python -m tests.helpers.stand_in_lmarena ARGS``: ``lmarena ARGS`` on the browser's stand-in.

The tests' entry module of the real command: it hands the front ends
:class:`tests.fakes.HttpBrowser` (``lmarena_cli.client.factory.use_browser``), names
:mod:`tests.helpers.stand_in_kept` as the kept server a command starts, then runs the real
``main()``. Every byte, pipe and exit code is the command's own; no Chromium is started.
"""

from __future__ import annotations

import sys

from lmarena_cli.cli.app import main
from lmarena_cli.client.factory import use_browser
from tests.fakes import HttpBrowser

#: The module of the stand-in kept server (``python -m`` it).
KEPT = "tests.helpers.stand_in_kept"


def run() -> None:
    use_browser(HttpBrowser, kept_server=[sys.executable, "-m", KEPT])
    sys.argv = ["lmarena", *sys.argv[1:]]
    main()


if __name__ == "__main__":
    run()
