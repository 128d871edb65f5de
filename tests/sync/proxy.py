"""A TCP forwarder between the speaker and the broker: the speaker's network, which
a test can take down (every connection cut, new ones reset at once) and bring back."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class Proxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``, one thread per direction."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refused = 0  # connections reset while down (tests wait on it)
        self._up = True
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._accepting = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        """The network goes down: every connection is cut, new ones are reset."""
        with self._lock:
            self._up = False
            cut, self._open = self._open, set()
        for sock in cut:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._server.close()
        self._accepting.join(5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            with self._lock:
                up = self._up
                if not up:
                    self.refused += 1
            if not up:
                _reset(client)
                continue
            try:
                broker = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                broker.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if not self._up:  # cut while connecting
                    _reset(client)
                    _close(broker)
                    continue
                self._open |= {client, broker}
            for source, sink in ((client, broker), (broker, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), name="proxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open -= {source, sink}
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv()
    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a host that refuses the connection."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
