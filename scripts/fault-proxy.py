#!/usr/bin/env python3
"""A loopback HTTP proxy that injects the faults an AWS endpoint shows and the emulator does not.

It sits between s3rec (or a peer tool) and moto, forwards every request, and on a chosen share of the
requests that match a pattern it injects one fault instead:

  slowdown       answer 503 SlowDown (S3's throttling error) without forwarding: the request did not happen
  reset          close the connection without forwarding: the request did not happen
  lost-response  forward the request (it takes effect upstream), then close without answering: the
                 ambiguous outcome a client cannot tell from `reset`
  cut-body       forward, send the status, the headers and half of the body, then close: a download cut
                 off mid-body
  strip-conditional
                 forward without the If-None-Match / If-Match headers and answer as upstream does: a
                 server that ignores conditional writes
  forbidden      answer 403 AccessDenied without forwarding: what S3 answers about a bucket another
                 account owns (HeadBucket, GetBucketLocation), or a policy that denies the caller
  bucket-taken   answer 409 BucketAlreadyExists without forwarding: S3's answer to CreateBucket for a
                 name another account holds (bucket names are global)
  no-content     answer 204 No Content without forwarding: a delete S3 acknowledges, for calls the
                 emulator mistakes for another (moto 5.1.22 reads DeleteBucketInventoryConfiguration
                 as DeleteBucket)
  ignore-start-after
                 forward a listing without its `start-after` parameter: a server that ignores it and
                 lists from the first key

Which requests: `--match REGEX` is searched in "METHOD PATH?QUERY" followed by a newline and the first
4 KiB of the request body (IAM, STS and SNS put their Action in the body). `--rate R` faults each matching
request with probability R (seeded with `--seed`, so a run is repeatable); `--first N` faults exactly the
first N matching requests, for deterministic tests. `--latency-ms L` delays every request by L ms, the
round trip a real region adds. `--max-keys N` caps `max-keys` on list requests at N (AWS's own cap is
1,000), so a tool that asks for more is measured on AWS's terms; a server that checks signatures (s3s-fs)
refuses such a rewritten request, so there the tool fails visibly instead of being flattered. `--bucket-region R` adds
`<BucketRegion>R</BucketRegion>` to every bucket of a ListBuckets answer, as AWS has since late 2024 and
moto 5.1.22 does not.

The proxy prints its endpoint (`http://127.0.0.1:PORT`) on stdout once it listens, and with `--log FILE`
appends one line per request: the operation, then the fault injected or `ok`. Standard library only, so
it runs with any Python 3.8+.
"""

import argparse
import asyncio
import random
import re
import signal
import sys
import urllib.parse

# Errors answered instead of forwarding: (status line, S3 error code, message).
CANNED = {
    "slowdown": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    "forbidden": ("403 Forbidden", "AccessDenied", "Access Denied"),
    "bucket-taken": (
        "409 Conflict",
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all users of the "
        "system. Please select a different name and try again.",
    ),
}

FAULTS = (
    "slowdown",
    "reset",
    "lost-response",
    "cut-body",
    "strip-conditional",
    "forbidden",
    "bucket-taken",
    "no-content",
    "ignore-start-after",
)


def canned_error(status, code, message):
    """A complete S3 error response, as AWS writes one."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>FAULTPROXY</RequestId><HostId>fault-proxy</HostId></Error>"
    ).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Request:
    def __init__(self, method, target, version, headers, body):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value), order and case kept
        self.body = body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def without(self, *names):
        names = {n.lower() for n in names}
        return [(k, v) for k, v in self.headers if k.lower() not in names]

    def describe(self):
        """The operation as a log line names it: the method and path, or the query API's Action."""
        path = self.target.split("?", 1)[0]
        action = None
        if self.body[:4096]:
            try:
                form = urllib.parse.parse_qs(self.body[:4096].decode("utf-8", "replace"))
                action = form.get("Action", [None])[0]
            except ValueError:
                action = None
        return f"{self.method} {path}" + (f" Action={action}" if action else "")


async def read_head(reader):
    """Reads a request or response head; None at a clean end of the stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise
    lines = head[:-4].decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return lines[0], headers


def header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


async def read_body(reader, headers, until_eof=False):
    """Reads a message body framed by Content-Length or chunked encoding, returned as raw bytes."""
    te = header(headers, "transfer-encoding")
    if te and "chunked" in te.lower():
        raw = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            raw += line
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailers end with an empty line.
                while True:
                    t = await reader.readuntil(b"\r\n")
                    raw += t
                    if t == b"\r\n":
                        return bytes(raw), True
            raw += await reader.readexactly(size + 2)
    length = header(headers, "content-length")
    if length is not None:
        return await reader.readexactly(int(length)), False
    if until_eof:
        return await reader.read(), False
    return b"", False


class Proxy:
    def __init__(self, args):
        self.args = args
        self.upstream = urllib.parse.urlsplit(args.upstream)
        self.pattern = re.compile(args.match) if args.match else None
        self.random = random.Random(args.seed)
        self.faults = [f for f in args.faults.split(",") if f]
        for f in self.faults:
            if f not in FAULTS:
                raise SystemExit(f"fault-proxy: unknown fault {f!r}; known: {', '.join(FAULTS)}")
        self.first_left = args.first
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def choose_fault(self, request):
        if self.pattern is not None:
            subject = f"{request.method} {request.target}\n" + request.body[:4096].decode("utf-8", "replace")
            if not self.pattern.search(subject):
                return None
        if self.args.first is not None:
            if self.first_left <= 0:
                return None
            self.first_left -= 1
        elif self.random.random() >= self.args.rate:
            return None
        return self.random.choice(self.faults)

    def cap_max_keys(self, target):
        if self.args.max_keys is None or "?" not in target:
            return target
        path, query = target.split("?", 1)
        parts = query.split("&")
        out = []
        for p in parts:
            k, _, v = p.partition("=")
            if k == "max-keys" and v.isdigit() and int(v) > self.args.max_keys:
                p = f"max-keys={self.args.max_keys}"
            out.append(p)
        # A listing without max-keys gets the server's default, 1,000 on AWS and s3s-fs; adding the
        # parameter would break the signature on servers that check it.
        return path + "?" + "&".join(out)

    def add_bucket_region(self, headers, body, chunked):
        """Adds `<BucketRegion>` to every bucket of a ListBuckets answer, as AWS has sent since late 2024
        and moto 5.1.22 does not. Other answers pass unchanged."""
        raw = dechunk(body) if chunked else body
        if b"<ListAllMyBucketsResult" not in raw or b"<BucketRegion>" in raw:
            return headers, body, chunked
        region = f"<BucketRegion>{self.args.bucket_region}</BucketRegion></Bucket>".encode()
        raw = raw.replace(b"</Bucket>", region)
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(raw))))
        return headers, raw, False

    async def forward(self, request, headers):
        host = self.upstream.hostname or "127.0.0.1"
        port = self.upstream.port or 80
        up_reader, up_writer = await asyncio.open_connection(host, port)
        try:
            lines = [f"{request.method} {request.target} {request.version}"]
            for k, v in headers:
                if k.lower() in ("connection", "expect", "proxy-connection"):
                    continue
                lines.append(f"{k}: {v}")
            lines.append("Connection: close")
            up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
            await up_writer.drain()
            head = await read_head(up_reader)
            if head is None:
                raise ConnectionError("upstream closed without answering")
            status_line, resp_headers = head
            no_body = request.method == "HEAD" or status_line.split(" ")[1] in ("204", "304")
            body, chunked = (b"", False) if no_body else await read_body(up_reader, resp_headers, until_eof=True)
            return status_line, resp_headers, body, chunked
        finally:
            up_writer.close()

    async def handle(self, reader, writer):
        try:
            while True:
                head = await read_head(reader)
                if head is None:
                    return
                request_line, headers = head
                method, target, version = request_line.split(" ", 2)
                expect = header(headers, "expect")
                if expect and expect.lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await writer.drain()
                body, _ = await read_body(reader, headers)
                if header(headers, "transfer-encoding"):
                    # The body was read raw (chunked); forward it framed by length instead.
                    body = dechunk(body)
                    headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
                    headers.append(("Content-Length", str(len(body))))
                request = Request(method, self.cap_max_keys(target), version, headers, body)
                fault = self.choose_fault(request)
                if self.log:
                    self.log.write(f"{request.describe()}\t{fault or 'ok'}\n")
                if self.args.latency_ms:
                    await asyncio.sleep(self.args.latency_ms / 1000.0)
                if fault in CANNED:
                    status, code, message = CANNED[fault]
                    # A HEAD answer carries no body (HeadBucket's 403 is the status alone).
                    response = canned_error(status, code, message)
                    if method == "HEAD":
                        response = response.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                    writer.write(response)
                    await writer.drain()
                    continue
                if fault == "no-content":
                    writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                if fault == "reset":
                    abort(writer)
                    return
                send_headers = headers
                if fault == "ignore-start-after" and "?" in request.target:
                    path, query = request.target.split("?", 1)
                    kept = [p for p in query.split("&") if not p.startswith("start-after=")]
                    request = Request(method, path + "?" + "&".join(kept), version, headers, body)
                if fault == "strip-conditional":
                    send_headers = request.without("if-none-match", "if-match")
                status_line, resp_headers, resp_body, chunked = await self.forward(request, send_headers)
                if fault == "lost-response":
                    abort(writer)
                    return
                if self.args.bucket_region and method == "GET" and target.split("?", 1)[0] == "/":
                    resp_headers, resp_body, chunked = self.add_bucket_region(resp_headers, resp_body, chunked)
                out_headers = [(k, v) for k, v in resp_headers if k.lower() not in ("connection", "keep-alive")]
                if not chunked and header(resp_headers, "content-length") is None and method != "HEAD":
                    out_headers.append(("Content-Length", str(len(resp_body))))
                head_bytes = (
                    "\r\n".join([status_line] + [f"{k}: {v}" for k, v in out_headers]) + "\r\n\r\n"
                ).encode("latin-1")
                if fault == "cut-body" and len(resp_body) > 1:
                    writer.write(head_bytes + resp_body[: len(resp_body) // 2])
                    await writer.drain()
                    abort(writer)
                    return
                writer.write(head_bytes + resp_body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, OSError):
            abort(writer)
        finally:
            try:
                writer.close()
            except OSError:
                pass


def dechunk(raw):
    out = bytearray()
    i = 0
    while True:
        j = raw.index(b"\r\n", i)
        size = int(raw[i:j].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return bytes(out)
        out += raw[j + 2 : j + 2 + size]
        i = j + 2 + size + 2


def abort(writer):
    """Closes the connection with a reset, as a dropped network path or a crashed server does."""
    transport = writer.transport
    if transport is not None and not transport.is_closing():
        transport.abort()


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="the server to forward to, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="the loopback port to listen on (0: any free one)")
    parser.add_argument("--rate", type=float, default=0.0, help="share of matching requests to fault (0..1)")
    parser.add_argument("--first", type=int, default=None, help="fault exactly the first N matching requests")
    parser.add_argument("--faults", default="slowdown", help="comma-separated faults to choose from: " + ", ".join(FAULTS))
    parser.add_argument("--match", default=None, help="regex over 'METHOD TARGET\\nBODY' selecting requests")
    parser.add_argument("--seed", type=int, default=1, help="random seed, so a run can be repeated")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every request")
    parser.add_argument("--max-keys", type=int, default=None, help="cap on max-keys of list requests")
    parser.add_argument("--log", default=None, help="append one line per request to this file")
    parser.add_argument(
        "--bucket-region",
        default=None,
        help="add <BucketRegion>REGION</BucketRegion> to every bucket of ListBuckets answers, as AWS does",
    )
    args = parser.parse_args()
    proxy = Proxy(args)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
