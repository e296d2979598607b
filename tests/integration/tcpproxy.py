"""A loopback TCP proxy a test puts between a client and the broker, to
simulate network faults: pause() stops forwarding (the connections stay open
and silent, like a partition), in both directions or in one ("up": client to
upstream, "down": upstream to client; what is not forwarded waits in the
kernel's buffers, as behind a black-holing router), cut() closes every
connection (and refuses new ones until resume()), resume() forwards again.
Threads only; stop() ends them.
"""
import select
import socket
import threading
import time


class TcpProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.mu = threading.Lock()
        self.conns = []  # (client socket, upstream socket)
        self.up = threading.Event()  # client -> upstream flows
        self.down = threading.Event()  # upstream -> client flows
        self.up.set()
        self.down.set()
        self.refusing = False
        self.stopped = False
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.refusing or self.stopped:
                c.close()
                continue
            try:
                u = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                c.close()
                continue
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.mu:
                self.conns.append((c, u))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()

    def _pump(self, c, u):
        peer = {c: u, u: c}
        flows = {c: self.up, u: self.down}
        try:
            while not self.stopped:
                open_ = [s for s in (c, u) if flows[s].is_set()]
                if not open_:
                    time.sleep(0.05)  # paused both ways: read nothing, so nothing moves
                    continue
                r, _, _ = select.select(open_, [], [], 0.05)
                for s in r:
                    if not flows[s].is_set():
                        continue
                    data = s.recv(65536)
                    if not data:
                        return
                    peer[s].sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            self._close(c, u)

    def _close(self, c, u):
        for s in (c, u):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.mu:
            if (c, u) in self.conns:
                self.conns.remove((c, u))

    def pause(self, direction="both"):
        """Stops forwarding: "both", "up" (client to upstream) or "down"."""
        assert direction in ("both", "up", "down")
        if direction in ("both", "up"):
            self.up.clear()
        if direction in ("both", "down"):
            self.down.clear()

    def resume(self):
        self.refusing = False
        self.up.set()
        self.down.set()

    def cut(self):
        """Closes every connection and refuses new ones until resume()."""
        self.refusing = True
        with self.mu:
            conns = list(self.conns)
        for c, u in conns:
            self._close(c, u)

    def stop(self):
        self.stopped = True
        self.resume()
        self.lsock.close()
        self.cut()
