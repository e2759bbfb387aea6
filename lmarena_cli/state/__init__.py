"""The state layer: what the tool keeps on disk between runs.

* :mod:`.files` — atomic, private file writes.
* :mod:`.auth` — the site's auth cookie (a Supabase session): join, decode, encode.
* :mod:`.cache` — the site cache (:class:`~.cache.SiteState` and its file).
* :mod:`.store` — the conversation store (SQLite, WAL).
* :mod:`.transcripts` — its turns, their hash, titles; :mod:`.sqlite` — its file, in WAL mode.
* :mod:`.penalty` — the waits the site asked for, and the time of the last send (file lock).
"""
