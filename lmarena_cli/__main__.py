"""``python -m lmarena_cli`` is the same as the ``lmarena`` command."""

from .cli.app import main

if __name__ == "__main__":
    main()
