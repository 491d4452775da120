#!/usr/bin/env python3
"""The chaos runs' stand-in for a Kubernetes Service: a TCP balancer that sends each new connection to the
next *ready* replica of a service, round robin.

Every 100 ms it asks each replica's GET /ready; a replica that answers anything but 200 (draining after
SIGTERM, or not running) gets no new connections, exactly as an endpoint that failed its readiness probe.
Connections already open stay with their replica until one side closes them (as with kube-proxy). With no
ready replica a new connection is closed at once: the client sees a failed request, as it would with no
endpoints.

    balancer.py LISTEN_PORT=REPLICA_PORT[,REPLICA_PORT...] ...
"""

import asyncio
import itertools
import sys

HOST = "127.0.0.1"


class Service:
    def __init__(self, replicas):
        self.replicas = replicas
        self.ready = set()
        self.turn = itertools.count()

    def pick(self):
        ready = [port for port in self.replicas if port in self.ready]
        if not ready:
            return None
        return ready[next(self.turn) % len(ready)]


async def probe(port):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 0.5)
        writer.write(f"GET /ready HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 1.0)
        writer.close()
        return status.split()[1:2] == [b"200"]
    except (OSError, asyncio.TimeoutError, IndexError):
        return False


async def watch(service):
    while True:
        results = await asyncio.gather(*(probe(port) for port in service.replicas))
        service.ready = {port for port, ok in zip(service.replicas, results) if ok}
        await asyncio.sleep(0.1)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


def handler(service):
    async def handle(client_reader, client_writer):
        port = service.pick()
        if port is None:
            client_writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(HOST, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    return handle


async def main(specs):
    servers = []
    for spec in specs:
        listen, replicas = spec.split("=")
        service = Service([int(p) for p in replicas.split(",")])
        asyncio.create_task(watch(service))
        servers.append(await asyncio.start_server(handler(service), HOST, int(listen), backlog=1024))
    print(f"balancer: {' '.join(specs)}", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1:]))
