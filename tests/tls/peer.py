#!/usr/bin/env python3
"""A TLS server built on Python's ssl module, speaking just enough of
brokerd's protocols for brokerctl's TLS tests (tests/integration/
test_tls_client.c), and a few servers that do not speak TLS at all.

usage: peer.py MODE [--cert FILE --key FILE] [--client-ca FILE]
               [--tls-max 1.2|1.3] [--count N]

Listens on 127.0.0.1, an ephemeral port, and prints "port N" on standard
output once it does; serves N connections (default 1), one after the
other, then exits 0.  Each connection leaves one line on standard error:
"peer: MODE: ..." with what happened, a failed handshake included.

Modes:
  broker   TLS.  Reads request lines: PING gets "OK pong"; VERSION gets
           "OK peer cn=CN" with the CN of the client's certificate, or
           "cn=none"; "RUN pending" (then END) gets a DATA frame and its
           final line in two TLS records of one TCP segment, so the final
           line is decrypted and held by the client's OpenSSL while the
           socket has nothing more (SSL_pending).  After a final line the
           connection stays open until the client closes it.
  echo     TLS.  Sends back every byte as it comes; at the client's
           close_notify sends its own and closes.
  plain    Not TLS: answers whatever comes with a plain-text broker error
           line, as a plain listener would, and closes.
  garbage  Not TLS: sends 64 fixed pseudo-random bytes at once, then
           waits for the client to close.
  silent   Not TLS: reads and never answers (a client's handshake must
           time out).
"""

import argparse
import random
import socket
import ssl
import sys


def log(mode, text):
    print("peer: %s: %s" % (mode, text), file=sys.stderr, flush=True)


def client_cn(conn):
    cert = conn.getpeercert()
    if not cert:
        return "none"
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return "none"


def wait_close(conn):
    """Reads until the client closes; whatever it sends is dropped."""
    try:
        while conn.recv(65536):
            pass
    except (OSError, ssl.SSLError):
        pass


def read_line(conn, buf):
    """(line, rest) from buf and the connection; line None at EOF."""
    while b"\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None, buf
        buf += data
    line, _, rest = buf.partition(b"\n")
    return line.rstrip(b"\r"), rest


def pending_reply(conn):
    """A DATA frame and the final line as two records in one segment."""
    body = b"held by OpenSSL\n"
    cork = getattr(socket, "TCP_CORK", None)
    if cork is not None:
        conn.setsockopt(socket.IPPROTO_TCP, cork, 1)
    conn.sendall(b"DATA %d\n%s" % (len(body), body))
    conn.sendall(b"OK pending\n")
    if cork is not None:
        conn.setsockopt(socket.IPPROTO_TCP, cork, 0)


def serve_broker(conn, mode):
    buf = b""
    while True:
        line, buf = read_line(conn, buf)
        if line is None:
            log(mode, "client closed")
            return
        verb = line.split(b" ")[0].upper()
        if verb == b"PING":
            conn.sendall(b"OK pong\n")
        elif verb == b"VERSION":
            conn.sendall(b"OK peer cn=%s\n" % client_cn(conn).encode())
        elif line.upper() == b"RUN PENDING":
            while line is not None and line != b"END":
                line, buf = read_line(conn, buf)
            pending_reply(conn)
        else:
            conn.sendall(b"ERR 404 unknown command\n")
        log(mode, "answered %s" % verb.decode(errors="replace"))


def serve_echo(conn, mode):
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
        total += len(data)
    # The client's close_notify came: ours, then close.
    conn.unwrap()
    log(mode, "echoed %d bytes" % total)


def serve_plain(sock, mode):
    if mode == "plain":
        sock.recv(65536)
        sock.sendall(b"ERR 400 bad request\n")
    elif mode == "garbage":
        sock.sendall(random.Random(13).randbytes(64))
        wait_close(sock)
    else:
        wait_close(sock)
    log(mode, "done")


def tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if args.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
    return ctx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["broker", "echo", "plain", "garbage",
                                     "silent"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca")
    ap.add_argument("--tls-max", choices=["1.2", "1.3"])
    ap.add_argument("--count", type=int, default=1)
    args = ap.parse_args()
    tls = args.mode in ("broker", "echo")
    ctx = tls_context(args) if tls else None

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    print("port %d" % lsock.getsockname()[1], flush=True)
    for _ in range(args.count):
        sock, _ = lsock.accept()
        conn = sock
        try:
            if not tls:
                serve_plain(sock, args.mode)
                continue
            try:
                conn = ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(args.mode, "handshake failed: %s" % e)
                continue
            log(args.mode, "%s, client cn=%s" % (conn.version(),
                                                 client_cn(conn)))
            if args.mode == "broker":
                serve_broker(conn, args.mode)
            else:
                serve_echo(conn, args.mode)
        except (ssl.SSLError, OSError) as e:
            log(args.mode, "connection failed: %s" % e)
        finally:
            conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
