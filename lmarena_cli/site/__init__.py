"""The site layer: every fact about arena.ai and the pure functions that speak its wire format.

No I/O here (no sockets, no files); the only clock read is UUIDv7's and ``Retry-After``'s.

* :mod:`.facts` — paths, cookie names, markers and error texts, modes, modalities, patterns.
* :mod:`.ids` — UUIDv7 minting and the UUID checks.
* :mod:`.events` and :mod:`.stream` — a chat stream's bytes in, typed events out.
* :mod:`.bodies` — the stream endpoints' request bodies.
* :mod:`.actions` — the value of a Next.js server action's reply.
* :mod:`.classify` — the site's failures as :mod:`lmarena_cli.errors` classes.
* :mod:`.models` — the model list; :mod:`.pages` — what pages reveal (site key, actions, models).
* :mod:`.decode` — tolerant JSON decoding shared by the parsers.
* :mod:`.prompts` — system prompts and earlier turns folded into one prompt (``serve``, ``ask -s``).
"""
