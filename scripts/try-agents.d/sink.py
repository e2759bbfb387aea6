"""Where the agents' HTTP(S)_PROXY points: ``sink.py PORT LOG_FILE``. Logs the first line of each
connection (``CONNECT host:443 HTTP/1.1`` or ``GET http://...``): what an agent tried to reach
beyond loopback. Answers 403 and closes; nothing goes further. Prints ``sink listening``."""

from __future__ import annotations

import asyncio
import sys
import time

REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _log(path: str, line: str) -> None:
    with open(path, "a") as log:
        log.write(f"{time.strftime('%H:%M:%S')} {line}\n")


async def main() -> None:
    port, log_path = int(sys.argv[1]), sys.argv[2]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            _log(log_path, line.decode(errors="replace").strip())
            writer.write(REFUSED)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("sink listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
