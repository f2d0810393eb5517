"""A small TCP proxy that delays what passes through it: a directory far away, or a slow one."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from types import TracebackType


class DelayProxy:
    """Listens on 127.0.0.1:``port`` and forwards to ``upstream``, holding every chunk of data for
    ``to_server`` seconds on its way there and ``to_client`` seconds on its way back."""

    def __init__(self, upstream: tuple[str, int], *, to_server: float = 0.0, to_client: float = 0.0) -> None:
        self.upstream = upstream
        self.to_server, self.to_client = to_server, to_client
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream)
            except OSError:
                return
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, self.to_server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.to_client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, delay: float) -> None:
        """Each chunk leaves ``delay`` after it arrived, as on a long wire: chunks that arrive
        together leave together, not one delay after another."""
        chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def send() -> None:
            with contextlib.suppress(OSError):
                while True:
                    arrived, chunk = chunks.get()
                    if not chunk:
                        break
                    time.sleep(max(0.0, arrived + delay - time.monotonic()))
                    target.sendall(chunk)
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                chunks.put((time.monotonic(), chunk))
        chunks.put((time.monotonic(), b""))

    def close(self) -> None:
        self.running = False
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> DelayProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
