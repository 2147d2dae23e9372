#!/usr/bin/env python3
"""A fast client for tests/integration/test_haproxy.sh: one new connection
per request, as a busy client behind a load balancer opens them, many more
a second than brokerctl processes can.  Alternates a small UPPER on the
broker port and an echo on the echo port, checking every byte, until the
file STOP exists.  Prints "ok N" and one "FAIL ..." line per failure.

usage: lb_client.py HOST BROKER_PORT ECHO_PORT STOP
"""
import os
import socket
import sys
import time


def recv_all(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def reply(s):
    """One reply: (the DATA payloads, the final line), or what came."""
    buf, data = b"", b""
    while True:
        if buf.startswith(b"DATA "):
            head, sep, rest = buf.partition(b"\n")
            if sep and len(rest) >= int(head[5:]):
                n = int(head[5:])
                data, buf = data + rest[:n], rest[n:]
                continue
        elif b"\n" in buf:
            return data, buf.partition(b"\n")[0]
        b = s.recv(65536)
        if not b:
            return data, b"EOF after " + buf
        buf += b


def upper(host, port, i):
    text = b"request %d of a fast client\n" % i
    with socket.create_connection((host, port), timeout=20) as s:
        s.sendall(b"UPPER\nDATA %d\n%sEND\n" % (len(text), text))
        data, final = reply(s)
    return data == text.upper() and final == b"OK", data + final


def echo(host, port, i):
    text = b"echo %d of a fast client\n" % i * 20
    with socket.create_connection((host, port), timeout=20) as s:
        s.sendall(text)
        s.shutdown(socket.SHUT_WR)
        back = recv_all(s)
    return back == text, back


def main():
    host, bport, eport, stop = sys.argv[1], int(sys.argv[2]), \
        int(sys.argv[3]), sys.argv[4]
    good = i = 0
    while not os.path.exists(stop):
        i += 1
        kind = "upper" if i % 2 else "echo"
        try:
            if kind == "upper":
                passed, got = upper(host, bport, i)
            else:
                passed, got = echo(host, eport, i)
        except OSError as e:
            passed, got = False, repr(e).encode()
        if passed:
            good += 1
        else:
            print("FAIL %s %d at %d: %r" % (kind, i, time.time() * 1000,
                                             got[:200]), flush=True)
    print("ok %d" % good, flush=True)


main()
