"""A TCP relay on loopback in front of a real peer (the fake SMTP server, the fake Twilio) that
can hold what clients say, so a test can kill a sender while its messages are on their way but
provably not delivered.

While the gate is shut, the bytes a client sends stay in the relay and never reach the peer (the
peer's own words still reach the client: an SMTP greeting, an answer to what went before). When
it opens, what was held goes on, except from a client that went away meanwhile (a process killed
while its request was held): that connection is dropped and the peer never hears what it said,
as if the request had been lost with the process. `holding` counts the connections holding bytes
now, `dropped` those dropped that way. TLS (STARTTLS) passes through untouched.
"""

from __future__ import annotations

import select
import socket
import threading


class Gate:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._holding: set[int] = set()
        self._sockets: list[socket.socket] = []
        self.dropped = 0
        self._thread = threading.Thread(target=self._accept, name="gate", daemon=True)

    def start(self) -> Gate:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._open.set()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                _close(s)
        self._thread.join(5)

    def __enter__(self) -> Gate:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def shut(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    @property
    def holding(self) -> int:
        with self._lock:
            return len(self._holding)

    def _accept(self) -> None:
        n = 0
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            n += 1
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._from_client, args=(n, client, upstream), daemon=True).start()
            threading.Thread(target=self._from_peer, args=(upstream, client), daemon=True).start()

    def _from_peer(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def _from_client(self, n: int, client: socket.socket, upstream: socket.socket) -> None:
        held: list[bytes] = []
        try:
            while True:
                readable, _, _ = select.select([client], [], [], 0.05)
                if not readable:
                    if held and self._open.is_set():
                        upstream.sendall(b"".join(held))
                        held.clear()
                        with self._lock:
                            self._holding.discard(n)
                    continue
                data = client.recv(65536)
                if not data:  # the client went away: what it said while held is never heard
                    if held:
                        with self._lock:
                            self.dropped += 1
                    return
                if self._open.is_set() and not held:
                    upstream.sendall(data)
                else:
                    held.append(data)
                    with self._lock:
                        self._holding.add(n)
        except (OSError, ValueError):  # the peer closed both ends meanwhile
            pass
        finally:
            with self._lock:
                self._holding.discard(n)
            _close(upstream)
            _close(client)


def _close(s: socket.socket) -> None:
    try:
        s.close()
    except OSError:
        pass
