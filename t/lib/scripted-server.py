#!/usr/bin/env python3
"""A SCRIPTED FAKE API SERVER, for fault tests of the watcher and writer.

It plays back, scenario by scenario, faults that the real kube-apiserver
cannot be made to produce on demand: a watch that stalls mid-object, an
event sent one byte per write, malformed JSON, an oversized event, 410 Gone
as a status and as an ERROR event, 429 with Retry-After, 504 "too large
resource version" as a status and as an ERROR event, a watch that closes
at once, an expired continue token, a snapshot's resourceVersion that has
expired, an oversized object in a streaming list, a bookmark just before a
break, internal errors that do not pass; and, for the writer, an Event
write that fails with 503 twice.
Everything a real API server can be made to do is tested against the real
one (t/cluster/kube).

It serves one resource, configmaps in namespace "demo", over plain HTTP on
127.0.0.1: discovery, lists and watches; and takes events.k8s.io/v1 Events
in any namespace, answering each create as the scenario scripts.  The
Nth watch request gets the scenario's Nth scripted response; once the
script is spent, a watch stays open and quiet but for a bookmark every
second.

    scripted-server.py SCENARIO DIR

writes its port to DIR/port once listening, and every request it gets, as
"<unix time> <path with query>", to DIR/requests; an Event create is
logged after its answer as "<unix time> POST <status> <reason>
<regarding's resourceVersion>".  Clients must send
"Authorization: Bearer scripted-token".  Python 3 standard library only.
"""

import http.server
import json
import os
import select
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

TOKEN = "scripted-token"
COLLECTION = "/api/v1/namespaces/demo/configmaps"
EVENTS_GROUP_VERSION = "/apis/events.k8s.io/v1"
QUIET_LIMIT = 120  # seconds a quiet watch stays open at most


def configmap(name, rv, generation=1, status=None):
    """An object with the fields the watcher keeps."""
    obj = {
        "metadata": {
            "name": name,
            "namespace": "demo",
            "uid": "uid-" + name,
            "resourceVersion": str(rv),
            "generation": generation,
        }
    }
    if status is not None:
        obj["status"] = status
    return obj


def event(kind, obj):
    return {"type": kind, "object": obj}


def bookmark(rv, initial_events_end=False):
    meta = {"resourceVersion": str(rv)}
    if initial_events_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return event("BOOKMARK", {"kind": "ConfigMap", "metadata": meta})


def status_object(code, reason, message, details=None):
    obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        obj["details"] = details
    return obj


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # --- Responses ---

    def send_json(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_status(self, code, reason, message, headers=None, details=None):
        self.send_json(code, status_object(code, reason, message, details),
                       headers)

    def begin_stream(self):
        """A 200 whose body runs until the connection closes."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_raw(self, data, one_byte=False):
        try:
            if not one_byte:
                self.wfile.write(data)
                return True
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                time.sleep(0.0005)
            return True
        except OSError:
            return False

    def send_event(self, ev, one_byte=False):
        return self.send_raw(json.dumps(ev).encode() + b"\n", one_byte)

    def client_gone(self, timeout):
        """Waits up to timeout for the client to close; True if it did."""
        readable, _, _ = select.select([self.connection], [], [], timeout)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def stall(self):
        """Sends nothing more until the client gives up."""
        end = time.time() + QUIET_LIMIT
        while time.time() < end and not self.client_gone(0.5):
            pass

    def quiet(self, rv):
        """Keeps the watch open with a bookmark every second."""
        end = time.time() + QUIET_LIMIT
        while time.time() < end and not self.client_gone(1.0):
            if not self.send_event(bookmark(rv)):
                return

    # --- Routing ---

    def do_GET(self):
        self.server.log_request_path(self.path)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.send_status(401, "Unauthorized", "Unauthorized")
        elif url.path == "/api/v1":
            self.send_json(200, {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [{
                    "name": "configmaps", "singularName": "configmap",
                    "namespaced": True, "kind": "ConfigMap",
                    "verbs": ["create", "delete", "get", "list", "patch",
                              "update", "watch"],
                }],
            })
        elif url.path == EVENTS_GROUP_VERSION:
            self.send_json(200, {
                "kind": "APIResourceList",
                "groupVersion": "events.k8s.io/v1",
                "resources": [{
                    "name": "events", "singularName": "event",
                    "namespaced": True, "kind": "Event",
                    "verbs": ["create", "get", "list", "patch"],
                }],
            })
        elif url.path != COLLECTION:
            self.send_status(404, "NotFound", "the server could not find "
                             "the requested resource")
        elif query.get("watch") == ["1"] and "sendInitialEvents" in query:
            self.server.scenario.streaming_list(self, query)
        elif query.get("watch") == ["1"]:
            self.server.scenario.watch(self, query)
        else:
            self.server.scenario.list(self, query)

    def do_POST(self):
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # /apis/events.k8s.io/v1/namespaces/NS/events
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.send_status(401, "Unauthorized", "Unauthorized")
        elif ("/".join(parts[:5]) != EVENTS_GROUP_VERSION + "/namespaces"
              or parts[6:] != ["events"]):
            self.send_status(404, "NotFound", "the server could not find "
                             "the requested resource")
        else:
            ev = json.loads(body)
            code = self.server.scenario.create_event(self, ev)
            self.server.log_request_path("POST %d %s %s" % (
                code, ev.get("reason"),
                ev.get("regarding", {}).get("resourceVersion")))


class Scenario:
    """The default behaviour; each scenario overrides what it scripts."""

    streaming = False
    objects = [configmap("a", 100)]
    list_rv = 100

    def __init__(self):
        self.lock = threading.Lock()
        self.watches = 0
        self.lists = 0

    def next_watch(self):
        with self.lock:
            self.watches += 1
            return self.watches

    def next_list(self):
        with self.lock:
            self.lists += 1
            return self.lists

    def send_list(self, h, objects, rv, token=""):
        meta = {"resourceVersion": str(rv)}
        if token:
            meta["continue"] = token
        h.send_json(200, {"kind": "ConfigMapList", "apiVersion": "v1",
                          "metadata": meta, "items": objects})

    def list(self, h, query):
        self.next_list()
        self.send_list(h, self.objects, self.list_rv)

    def streaming_list(self, h, query):
        if not self.streaming:
            h.send_status(400, "BadRequest",
                          "sendInitialEvents is forbidden for watch")
            return
        h.begin_stream()
        for obj in self.objects:
            h.send_event(event("ADDED", obj))
        h.send_event(bookmark(self.list_rv, initial_events_end=True))
        h.quiet(self.list_rv)

    def create_event(self, h, ev):
        """Answers the create of Event ev; returns the status sent."""
        h.send_json(201, ev)
        return 201

    def watch(self, h, query):
        n = self.next_watch()
        step = getattr(self, "watch%d" % n, None)
        if step:
            step(h, query)
        else:
            h.begin_stream()
            h.quiet(query.get("resourceVersion", [""])[0] or self.list_rv)


class Stall(Scenario):
    """A watch stops mid-object and sends nothing more."""

    def watch1(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("b", 101)))
        h.send_raw(b'{"type":"ADDED","object":{"metadata":{"na')
        h.stall()

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("c", 102)))
        h.quiet(102)


class OneByte(Scenario):
    """An event arrives one byte per write."""

    def watch1(self, h, query):
        h.begin_stream()
        obj = configmap("d", 101, status={
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True",
                            "reason": "Up \u2713", "message": "{[\"\n"}],
        })
        obj["metadata"]["annotations"] = {"note": "caf\u00e9 \U0001f680"}
        h.send_event(event("ADDED", obj), one_byte=True)
        h.quiet(101)


class Malformed(Scenario):
    """An object without a uid, then bytes that are not JSON."""

    def watch1(self, h, query):
        h.begin_stream()
        nouid = configmap("nouid", 101)
        del nouid["metadata"]["uid"]
        h.send_event(event("ADDED", nouid))
        time.sleep(0.2)
        h.send_raw(b'{"type":"ADDED","object":{not json}}\n')
        h.stall()

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("e", 102)))
        h.quiet(102)


class Oversized(Scenario):
    """An event far over the watcher's --max-event-bytes."""

    def watch1(self, h, query):
        h.begin_stream()
        big = configmap("big", 101)
        big["metadata"]["annotations"] = {"blob": "x" * 10000}
        h.send_event(event("ADDED", big))
        h.stall()

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("f", 102)))
        h.quiet(102)


class Gone(Scenario):
    """410 as an HTTP status, then as an ERROR event: two relists."""

    def list(self, h, query):
        n = self.next_list()
        if n == 1:
            self.send_list(h, [configmap("a", 100), configmap("g0", 99)], 100)
        elif n == 2:
            self.send_list(h, [configmap("a", 105, generation=2),
                               configmap("g0", 99), configmap("g", 104)], 105)
        else:
            self.send_list(h, [configmap("a", 105, generation=2),
                               configmap("g0", 99), configmap("h", 106)], 106)

    def watch1(self, h, query):
        h.send_status(410, "Expired", "too old resource version: 100 (104)")

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ERROR", status_object(
            410, "Expired", "too old resource version: 105 (106)")))
        h.stall()


class Throttled(Scenario):
    """429 with Retry-After: 1."""

    def watch1(self, h, query):
        h.send_status(429, "TooManyRequests", "too many requests",
                      headers={"Retry-After": "1"})

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("i", 101)))
        h.quiet(101)


class TooLarge(Scenario):
    """504: the resourceVersion is ahead of the server's cache."""

    def watch1(self, h, query):
        h.send_status(504, "Timeout", "Too large resource version: 100, "
                      "current: 99", details={
                          "causes": [{"reason": "ResourceVersionTooLarge",
                                      "message": "Too large resource "
                                      "version"}],
                          "retryAfterSeconds": 1})

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("j", 101)))
        h.quiet(101)


class TooLargeEvent(Scenario):
    """The watch cache's "too large resource version": an ERROR event."""

    def watch1(self, h, query):
        h.begin_stream()
        h.send_event(event("ERROR", status_object(
            504, "Timeout", "Too large resource version: 100, current: 99",
            details={"causes": [{"reason": "ResourceVersionTooLarge",
                                 "message": "Too large resource version"}],
                     "retryAfterSeconds": 2})))
        h.stall()

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("r", 101)))
        h.quiet(101)


class OversizedList(Scenario):
    """An object over the limit in the first streaming list only."""

    streaming = True
    objects = [configmap("a", 100)]

    def __init__(self):
        super().__init__()
        self.streaming_lists = 0

    def streaming_list(self, h, query):
        with self.lock:
            self.streaming_lists += 1
            n = self.streaming_lists
        if n > 1:
            self.objects = [configmap("a", 100)]
            self.list_rv = 102
            return super().streaming_list(h, query)
        big = configmap("big", 101)
        big["metadata"]["annotations"] = {"blob": "x" * 10000}
        h.begin_stream()
        h.send_event(event("ADDED", configmap("a", 100)))
        h.send_event(event("ADDED", big))
        h.stall()

    def list(self, h, query):
        self.next_list()
        big = configmap("big", 101)
        big["metadata"]["annotations"] = {"blob": "x" * 10000}
        self.send_list(h, [configmap("a", 100), big], 101)

    def watch1(self, h, query):
        h.send_status(410, "Expired", "too old resource version: 101 (102)")


class BookmarkThenBreak(Scenario):
    """A bookmark moves the resourceVersion on, then the stream ends."""

    def watch1(self, h, query):
        h.begin_stream()
        h.send_event(bookmark(150))
        time.sleep(1.2)

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("s", 151)))
        h.quiet(151)


class InternalErrors(Scenario):
    """Every watch ends with an internal error, until a relist."""

    def list(self, h, query):
        n = self.next_list()
        objects = [configmap("a", 100)]
        if n > 1:
            objects.append(configmap("t", 120))
        self.send_list(h, objects, 100 if n == 1 else 120)

    def watch(self, h, query):
        self.next_watch()
        h.begin_stream()
        if self.lists > 1:
            h.quiet(120)
            return
        h.send_event(event("ERROR", status_object(
            500, "InternalError", "etcdserver: no leader")))
        h.stall()


class Closes(Scenario):
    """Three watches that end at once without an event."""

    def closes_at_once(self, h, query):
        h.begin_stream()

    watch1 = watch2 = watch3 = closes_at_once

    def watch4(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("k", 101)))
        h.quiet(101)


class ErrorEvent(Scenario):
    """An ERROR event other than 410."""

    def watch1(self, h, query):
        h.begin_stream()
        h.send_event(event("ERROR", status_object(
            500, "InternalError", "etcd is sad")))
        h.stall()

    def watch2(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("l", 101)))
        h.quiet(101)


class Pages(Scenario):
    """A list in pages whose continue token expires."""

    def list(self, h, query):
        n = self.next_list()
        if n == 1:
            self.send_list(h, [configmap("a", 100)], 100, token="tok-1")
        elif n == 2:
            h.send_status(410, "Expired", "The provided continue parameter "
                          "is too old")
        else:
            self.send_list(h, [configmap("a", 100), configmap("m", 101)], 101)


class Streaming(Scenario):
    """A server that serves streaming lists."""

    streaming = True
    objects = [configmap("a", 100), configmap("n", 101)]
    list_rv = 101

    def watch1(self, h, query):
        h.begin_stream()
        h.send_event(event("ADDED", configmap("o", 102)))
        h.quiet(102)


class Late(Scenario):
    """A change a second into the watch, after the first records."""

    def watch1(self, h, query):
        h.begin_stream()
        time.sleep(1)
        h.send_event(event("ADDED", configmap("p", 101)))
        h.quiet(101)


class Resume(Scenario):
    """A watcher resumes from a snapshot whose version has expired."""

    objects = [configmap("a", 110, generation=2), configmap("q", 109)]
    list_rv = 110

    def watch1(self, h, query):
        if query.get("resourceVersion") == ["100"]:
            h.send_status(410, "Expired", "too old resource version: 100")
        else:
            h.begin_stream()
            h.quiet(self.list_rv)


class EventFailsTwice(Scenario):
    """The first Event written meets 503 twice, with Retry-After 3, then
    with a Retry-After that is no count of seconds; the rest pass."""

    AFTER = ("3", "7s")

    def __init__(self):
        super().__init__()
        self.events = 0

    def create_event(self, h, ev):
        with self.lock:
            self.events += 1
            n = self.events
        if n <= len(self.AFTER):
            h.send_status(503, "ServiceUnavailable", "scripted failure",
                          {"Retry-After": self.AFTER[n - 1]})
            return 503
        return super().create_event(h, ev)


SCENARIOS = {
    "stall": Stall, "one-byte": OneByte, "malformed": Malformed,
    "oversized": Oversized, "gone": Gone, "throttled": Throttled,
    "too-large": TooLarge, "too-large-event": TooLargeEvent,
    "oversized-list": OversizedList, "bookmark": BookmarkThenBreak,
    "internal-errors": InternalErrors,
    "closes": Closes, "error-event": ErrorEvent,
    "pages": Pages, "streaming": Streaming, "late": Late, "resume": Resume,
    "event-fails-twice": EventFailsTwice,
}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, scenario, directory):
        super().__init__(("127.0.0.1", 0), Handler)
        self.scenario = scenario
        self.log_lock = threading.Lock()
        self.log = open(os.path.join(directory, "requests"), "a")

    def log_request_path(self, path):
        with self.log_lock:
            self.log.write("%.3f %s\n" % (time.time(), path))
            self.log.flush()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: scripted-server.py %s DIR" % "|".join(SCENARIOS))
    server = Server(SCENARIOS[sys.argv[1]](), sys.argv[2])
    port_file = os.path.join(sys.argv[2], "port")
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
