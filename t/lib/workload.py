#!/usr/bin/env python3
"""Makes many changes to objects through the API, and records each.

    workload.py --namespace NS --changes N --record FILE
                [--rate PER_SECOND] [--connections N] [--seed N]
                [--resources notebooks,imagebuilders,workflowtemplates]

Talks HTTPS to the apiserver of the kubeconfig's current context
($KUBECONFIG, read once through "kubectl config view --raw -o json"):
its server and CA, and a token, a token file or a client certificate.

Each object lives a short life: it is created, then its spec (the
generation moves) and its status (phase, through the status subresource,
as a merge patch) change in turn, and most objects are deleted in the
end.  Every value is new for its object, so no two changes of one object
make the same Event.  ConfigMaps are created, have their data changed
(which makes no Event) and are deleted.  Objects are spread over the
resources and over the connections; each connection changes its own
objects, one change at a time, interleaving them.  All writes are
absolute values, so that a write retried after a lost response changes
nothing more.

RECORD gets one JSON object a line per change, in the order each
object's changes were made:

    {"resource": "notebooks", "kind": "Notebook", "name": "notebooks-7",
     "uid": "...", "step": 2, "reason": "StatusChanged",
     "note": "phase none → p1", "rv": "1234", "exists": true,
     "generation": 1, "phase": "p1"}

reason and note are those of the Event the change should make (reason
null for a change that makes none); rv, exists, generation and phase
describe the object after the change.  A deletion's rv is the object's
last resourceVersion, and "deleted_by" a resourceVersion read after the
deletion, which is at least the deletion's own.

Prints "N changes in S s" and exits 0 when every change was made.
"""
import argparse
import base64
import http.client
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

MANAGER = "workload"
CRD_GROUP = "tensorstack.dev/v1beta1"
KINDS = {
    "notebooks": "Notebook",
    "imagebuilders": "ImageBuilder",
    "workflowtemplates": "WorkflowTemplate",
    "configmaps": "ConfigMap",
}
# A retry waits this long at first, doubling up to the cap; a change is
# given up after RETRY_FOR seconds (an apiserver restart takes about 10).
RETRY_FIRST, RETRY_CAP, RETRY_FOR = 0.2, 2.0, 120.0


class Failed(Exception):
    pass


def kubeconfig():
    """Server, SSL context and headers of the current context."""
    out = subprocess.run(
        ["kubectl", "config", "view", "--raw", "--minify", "-o", "json"],
        check=True, capture_output=True, text=True).stdout
    config = json.loads(out)
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"] if config.get("users") else {}
    files = tempfile.mkdtemp(prefix="workload.")

    def material(key):
        """A file path for key or key-data, or None."""
        if user.get(key) or cluster.get(key):
            return user.get(key) or cluster.get(key)
        data = user.get(key + "-data") or cluster.get(key + "-data")
        if not data:
            return None
        path = os.path.join(files, key)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    context = ssl.create_default_context(
        cafile=material("certificate-authority"))
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert, key = material("client-certificate"), material("client-key")
    if cert:
        context.load_cert_chain(cert, key)
    headers = {"Content-Type": "application/json"}
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(user["tokenFile"], encoding="utf-8") as f:
            token = f.read().strip()
    if token:
        headers["Authorization"] = "Bearer " + token
    if user.get("exec") or user.get("auth-provider"):
        sys.exit("workload.py: credential plugins are not supported")
    return urllib.parse.urlsplit(cluster["server"]), context, headers


class Client:
    """One keep-alive connection; retries what may be retried."""

    def __init__(self, server, context, headers):
        self.server, self.context, self.headers = server, context, headers
        self.conn = None

    def once(self, method, path, body, content_type):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(
                self.server.hostname, self.server.port,
                context=self.context, timeout=30)
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else {}

    def request(self, method, path, body=None, content_type=None,
                done=(200, 201)):
        """The status and JSON answer; retries transport errors and
        429 and 5xx answers for up to RETRY_FOR seconds."""
        delay, end = RETRY_FIRST, time.monotonic() + RETRY_FOR
        while True:
            try:
                status, answer = self.once(method, path, body, content_type)
                if status in done:
                    return status, answer
                if status != 429 and status < 500:
                    raise Failed("%s %s: %d %s" % (
                        method, path, status, answer.get("message", "")))
                why = "%d" % status
            except (OSError, http.client.HTTPException, ValueError) as e:
                why = str(e) or type(e).__name__
                self.conn.close()
                self.conn = None
            if time.monotonic() > end:
                raise Failed("%s %s: still failing: %s" % (method, path, why))
            time.sleep(delay)
            delay = min(delay * 2, RETRY_CAP)


class Rate:
    """Spaces out changes to PER_SECOND over all connections."""

    def __init__(self, per_second):
        self.interval = 1.0 / per_second if per_second > 0 else 0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self):
        with self.lock:
            now = time.monotonic()
            at = max(self.next, now)
            self.next = at + self.interval
        if at > now:
            time.sleep(at - now)


class Recorder:
    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8")
        self.lock = threading.Lock()
        self.count = 0

    def write(self, line):
        with self.lock:
            self.f.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.f.flush()
            self.count += 1


class Object:
    """One object's life: a list of steps, and where it stands."""

    def __init__(self, resource, name, steps):
        self.resource, self.kind, self.name = resource, KINDS[resource], name
        self.steps, self.done = steps, 0
        self.uid, self.rv, self.generation, self.phase = "", "", 0, None
        self.spec = 0


def life(rng, resource):
    """The steps of one object: at most 8, so that even with replays an
    object stays far below the emitter's per-object spam limit."""
    if resource == "configmaps":
        return ["create"] + ["data"] * rng.randint(0, 2) + ["delete"]
    steps = ["create"]
    for _ in range(rng.randint(1, 6)):
        steps.append(rng.choice(["spec", "status"]))
    if rng.random() < 0.7:
        steps.append("delete")
    return steps


def plan(rng, resources, changes):
    """Objects whose steps add up to exactly changes."""
    objects, total, i = [], 0, 0
    while total < changes:
        resource = resources[i % len(resources)]
        steps = life(rng, resource)[:changes - total]
        objects.append(Object(resource, "%s-%d" % (resource, i), steps))
        total += len(steps)
        i += 1
    return objects


class Worker:
    def __init__(self, client, namespace, recorder, rate):
        self.client, self.ns = client, namespace
        self.recorder, self.rate = recorder, rate

    def path(self, o, name=True, sub=""):
        base = ("/api/v1" if o.resource == "configmaps"
                else "/apis/" + CRD_GROUP)
        p = "%s/namespaces/%s/%s" % (base, self.ns, o.resource)
        if name:
            p += "/" + o.name + sub
        return p + "?fieldManager=" + MANAGER

    def take(self, o, answer):
        meta = answer["metadata"]
        if o.uid and meta["uid"] != o.uid:
            raise Failed("%s changed uid" % o.name)
        o.uid, o.rv = meta["uid"], meta["resourceVersion"]
        o.generation = meta.get("generation", 0)
        o.phase = (answer.get("status") or {}).get("phase")

    def create(self, o):
        body = {"apiVersion": "v1" if o.resource == "configmaps"
                else CRD_GROUP, "kind": o.kind,
                "metadata": {"name": o.name, "namespace": self.ns}}
        if o.resource == "configmaps":
            body["data"] = {"step": "0"}
        else:
            body["spec"] = {"image": "i0"}
        status, answer = self.client.request(
            "POST", self.path(o, name=False), body, done=(201, 409))
        if status == 409:
            # An earlier try was made and its answer lost.
            status, answer = self.client.request("GET", self.path(o))
        self.take(o, answer)
        return "Created", "created"

    def patch(self, o, body, sub=""):
        status, answer = self.client.request(
            "PATCH", self.path(o, sub=sub), body,
            "application/merge-patch+json")
        before = o.generation
        self.take(o, answer)
        return before

    def spec(self, o):
        o.spec += 1
        before = self.patch(o, {"spec": {"image": "i%d" % o.spec}})
        if o.generation != before + 1:
            raise Failed("%s: generation %d after %d" %
                         (o.name, o.generation, before))
        return "Updated", "spec changed (generation %d → %d) by %s" % (
            before, o.generation, MANAGER)

    def status(self, o):
        was = o.phase or "none"
        self.patch(o, {"status": {"phase": "p%d" % o.done}}, "/status")
        return "StatusChanged", "phase %s → %s" % (was, o.phase)

    def data(self, o):
        self.patch(o, {"data": {"step": str(o.done)}})
        return None, None

    def delete(self, o):
        self.client.request("DELETE", self.path(o), done=(200, 202, 404))
        status, answer = self.client.request(
            "GET", self.path(o, name=False) + "&limit=1")
        return "Deleted", "deleted", answer["metadata"]["resourceVersion"]

    def step(self, o):
        what = o.steps[o.done]
        self.rate.wait()
        result = getattr(self, what)(o)
        line = {"resource": o.resource, "kind": o.kind, "name": o.name,
                "uid": o.uid, "step": o.done, "reason": result[0],
                "note": result[1], "rv": o.rv,
                "exists": what != "delete", "generation": o.generation,
                "phase": o.phase}
        if what == "delete":
            line["deleted_by"] = result[2]
        self.recorder.write(line)
        o.done += 1

    def run(self, objects, rng, window):
        """Changes objects one step at a time, a few alive at once."""
        waiting, alive = list(objects), []
        while waiting or alive:
            while waiting and len(alive) < window:
                alive.append(waiting.pop(0))
            o = rng.choice(alive)
            self.step(o)
            if o.done == len(o.steps):
                alive.remove(o)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--namespace", required=True)
    p.add_argument("--changes", type=int, required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--rate", type=float, default=50.0,
                   help="changes per second over all connections")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--window", type=int, default=5,
                   help="objects each connection changes at once")
    p.add_argument("--resources",
                   default="notebooks,imagebuilders,workflowtemplates")
    args = p.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    print("seed %d" % seed, flush=True)
    rng = random.Random(seed)
    resources = args.resources.split(",")
    for r in resources:
        if r not in KINDS:
            sys.exit("workload.py: unknown resource %s" % r)

    server, context, headers = kubeconfig()
    objects = plan(rng, resources, args.changes)
    recorder, rate = Recorder(args.record), Rate(args.rate)
    errors, threads = [], []
    start = time.monotonic()
    for n in range(args.connections):
        mine = objects[n::args.connections]
        worker = Worker(Client(server, context, headers), args.namespace,
                        recorder, rate)
        worker_rng = random.Random(rng.random())

        def run(worker=worker, mine=mine, worker_rng=worker_rng):
            try:
                worker.run(mine, worker_rng, args.window)
            except Failed as e:
                errors.append(str(e))

        threads.append(threading.Thread(target=run))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        print("workload.py: " + e, file=sys.stderr)
    print("%d changes in %.1f s" % (recorder.count,
                                    time.monotonic() - start), flush=True)
    sys.exit(1 if errors or recorder.count != args.changes else 0)


if __name__ == "__main__":
    main()
