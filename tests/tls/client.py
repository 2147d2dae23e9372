#!/usr/bin/env python3
"""A TLS client built on Python's ssl module, for brokerd's TLS tests
(tests/integration/test_tls.c): another implementation than brokerctl's
and openssl s_client's talking to the daemon.

usage: client.py PORT MODE --ca FILE [--cert FILE --key FILE]
                 [--servername NAME]

Connects to 127.0.0.1:PORT, verifying the server's certificate against
--ca for the name localhost (or --servername), and prints "serial HEX" (the server
certificate's serial number) once the handshake is done.

Modes:
  lines    Sends each line of standard input as a request and prints the
           first line of its reply, flushed, one at a time: a test can
           keep the connection open across a reload and use it again.
  echo N   Sends N bytes (a fixed pseudo-random pattern) while reading
           them back; prints "echo N ok" if all N came back unchanged.
A failed handshake prints "handshake failed: REASON" and exits 1.
"""

import argparse
import random
import socket
import ssl
import sys


def connect(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(args.ca)
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=30)
    try:
        conn = ctx.wrap_socket(raw, server_hostname=args.servername)
    except (ssl.SSLError, OSError) as e:
        print("handshake failed: %s" % e, flush=True)
        sys.exit(1)
    print("serial %s" % conn.getpeercert().get("serialNumber", "?"),
          flush=True)
    return conn


def lines(conn):
    buf = b""
    for line in sys.stdin:
        conn.sendall(line.encode())
        while b"\n" not in buf:
            data = conn.recv(65536)
            if not data:
                print("eof", flush=True)
                return
            buf += data
        reply, _, buf = buf.partition(b"\n")
        print(reply.decode(errors="replace"), flush=True)


def echo(conn, n):
    rnd = random.Random(13)
    data = bytes(rnd.getrandbits(8) for _ in range(n))
    back = bytearray()
    conn.setblocking(False)
    sent = 0
    while len(back) < n:
        if sent < n:
            try:
                sent += conn.send(data[sent:sent + 16384])
            except (ssl.SSLWantWriteError, BlockingIOError):
                pass
        try:
            chunk = conn.recv(65536)
            if not chunk:
                break
            back += chunk
        except (ssl.SSLWantReadError, BlockingIOError):
            import select
            select.select([conn], [conn] if sent < n else [], [], 1)
    print("echo %d %s" % (n, "ok" if bytes(back) == data else
                          "bad (%d bytes back)" % len(back)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("mode", choices=["lines", "echo"])
    ap.add_argument("n", type=int, nargs="?", default=0)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--servername", default="localhost")
    args = ap.parse_args()
    conn = connect(args)
    if args.mode == "lines":
        lines(conn)
    else:
        echo(conn, args.n)
    conn.close()


main()
