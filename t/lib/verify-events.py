#!/usr/bin/env python3
"""Compares what a test did with the Events the apiserver holds.

    verify-events.py [--log LOG]... RECORD EVENTS.json...

EVENTS.json files are events.k8s.io/v1 EventLists.  RECORD comes in one
of two forms.

A record written by a test has one line per expected Event, in the order
of the changes: "NAME<TAB>REASON<TAB>NOTE", NOTE a Python regular
expression that must match the whole note.  Object names must be unique
in the record: an object is found by name and its Events by
regarding.uid.  Prints one line per problem: missed, duplicated,
unexpected, out of order, incomplete; then a summary.

A record written by workload.py has one JSON object a line per change,
with the object's uid, its resourceVersion after the change and the
Event the change should make (see workload.py).  Each Event is then
either direct, written from a watch event, or a resync Event, written
from a relist and marked "(observed at resync)", and:

- A direct Event represents the change whose reason and note it has, and
  must name the resourceVersion of that change (a Deleted Event, the
  deletion's own: after the object's last version).
- A resync Event represents the changes a relist collapsed into it: the
  relist compares the object with the last version the watcher knew and
  names its current version.  "created" represents every change up to
  the version it names; "spec changed (generation A → B)" the spec
  changes from generation A to B, and "phase X → Y" the status changes
  from phase X to Y, up to the version it names; "deleted while not
  watched" every change after the version it names, the last one known.
- A gap is what a relist collapsed: from the resourceVersion whose watch
  got 410 Gone to the resourceVersion the following list had, as the
  watchers log them (the LOG files, at -v 2).

Every change must be represented exactly once: by one direct Event, or
by one resync Event, never by both.  So each change observed directly
has exactly one Event, and after a gap the state each object reached
and each deletion are represented, the changes collapsed before them
only as part of a resync Event.  The one exception: an object created
after a gap's start and last changed before its end, then deleted, may
have no Event at all, since no list ever held it.  A series count of N
counts as N Events.

An Event written through core/v1, where events.k8s.io/v1 is not served,
reads here without eventTime and action; its count counts as the series
count, and its firstTimestamp, whole seconds, as its eventTime.

Problems, each counted and printed on a line:
- missed: a change no Event represents;
- duplicated: a change represented more than once;
- wrong reason: an Event of an object that describes none of its changes
  (a wrong reason, or a wrong message);
- wrong object: an Event whose regarding does not name an object the
  workload changed (uid, kind, name, namespace), or names the wrong
  resourceVersion of it; and an Event that lacks a required field;
- out of order: of one object, an Event that represents only changes
  made after those of another has an older resourceVersion or, but for
  Events of one observed change, was written first.
Then the summary "missed N, duplicated N, wrong reason N, wrong object
N, out of order N".

Exits 1 when there is a problem.
"""
import collections
import json
import re
import sys

REQUIRED = ("eventTime", "reportingController", "reportingInstance",
            "action", "reason", "type")
REFERENCE = ("apiVersion", "kind", "name", "uid", "resourceVersion")


def load_record(path):
    expected = collections.OrderedDict()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name, reason, note = line.split("\t", 2)
            expected.setdefault(name, []).append((reason, note))
    return expected


def load_events(paths):
    events = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            events.extend(json.load(f)["items"])
    return events


def incomplete(event):
    """What a written Event lacks, as text; "" when it is whole."""
    lacks = [k for k in REQUIRED if not event.get(k)]
    ref = event.get("regarding") or {}
    lacks += ["regarding." + k for k in REFERENCE if not ref.get(k)]
    ns = event["metadata"]["namespace"]
    if ref.get("namespace", "default") != ns:
        lacks.append("regarding.namespace = metadata.namespace")
    return ", ".join(lacks)


def rv_order(event):
    # Test objects live in one etcd, whose revisions are numbers; the
    # controller itself never compares them.
    rv = event["regarding"].get("resourceVersion", "0")
    return int(rv) if rv.isdigit() else 0


def check_object(name, wanted, got, problems):
    got = sorted(got, key=rv_order)
    left = [e.get("series", {}).get("count", 1) for e in got]
    matched = []
    for reason, note in wanted:
        for i, e in enumerate(got):
            if (left[i] > 0 and e["reason"] == reason
                    and re.fullmatch(note, e.get("note", ""))):
                left[i] -= 1
                matched.append(i)
                break
        else:
            problems.append("missed %s %s %r" % (name, reason, note))
    for i, e in enumerate(got):
        if left[i] <= 0:
            continue
        same = [j for j in matched
                if (got[j]["reason"], got[j].get("note"))
                == (e["reason"], e.get("note"))]
        kind = "duplicated" if same else "unexpected"
        problems.append("%s %s %s %r (%d more)" %
                        (kind, name, e["reason"], e.get("note"), left[i]))
    # Events of one change share its resourceVersion: only the changes'
    # order is checked.
    firsts = [rv_order(got[i]) for n, i in enumerate(matched)
              if i not in matched[:n]]
    if firsts != sorted(firsts):
        problems.append("out of order %s: %s" % (
            name, " ".join(str(rv) for rv in firsts)))


def verify_test_record(record, paths):
    """The record a test wrote by hand: one expected Event a line."""
    expected = load_record(record)
    events = load_events(paths)
    by_name = collections.defaultdict(list)
    problems = []
    for e in events:
        lacks = incomplete(e)
        if lacks:
            problems.append("incomplete %s: lacks %s" %
                            (e["metadata"]["name"], lacks))
        by_name[e["regarding"].get("name", "")].append(e)
    for name, got in by_name.items():
        uids = {e["regarding"].get("uid") for e in got}
        if len(uids) > 1:
            problems.append("name %s has Events for %d uids" %
                            (name, len(uids)))
        if name not in expected:
            for e in got:
                problems.append("unexpected %s %s %r" %
                                (name, e["reason"], e.get("note")))
    for name, wanted in expected.items():
        check_object(name, wanted, by_name.get(name, []), problems)
    for p in problems:
        print(p)
    n = sum(len(w) for w in expected.values())
    print("%d problems; %d Events expected for %d objects, %d written" %
          (len(problems), n, len(expected), len(events)))
    sys.exit(1 if problems else 0)


# --- Records of workload.py ---

RESYNC = " (observed at resync)"
KINDS = ("missed", "duplicated", "wrong reason", "wrong object",
         "out of order")


def written(e):
    """When an Event was first written, as (seconds, microseconds or
    None): a core/v1 Event only has whole seconds."""
    stamp = e.get("eventTime") or e.get("deprecatedFirstTimestamp") or ""
    seconds, _, micro = stamp.rstrip("Z").partition(".")
    return seconds, int(micro) if micro else None


def earlier(b, a):
    """Whether Event b was first written before Event a."""
    (sa, ma), (sb, mb) = written(a), written(b)
    if sa != sb or ma is None or mb is None:
        return sb < sa
    return mb < ma


def copies(e):
    """How many writes an Event stands for: its series or core count."""
    series = e.get("series") or {}
    return series.get("count") or e.get("deprecatedCount") or 1


def core_incomplete(e):
    """What an Event written through core/v1 lacks, as text."""
    event = dict(e, eventTime=e.get("deprecatedFirstTimestamp"),
                 action="(none in core/v1)")
    return incomplete(event)


def number(rv):
    """A resourceVersion of the test's etcd as a number, for gaps and
    order only; the controller itself never compares them."""
    return int(rv) if rv and rv.isdigit() else 0


class Changed:
    """One object of the workload: its changes, in the order made."""

    def __init__(self, first):
        self.uid, self.name = first["uid"], first["name"]
        self.kind, self.resource = first["kind"], first["resource"]
        self.changes = []

    def version(self, rv):
        """The index of the change that made version rv, or None."""
        for i, c in enumerate(self.changes):
            if c["exists"] and c["rv"] == rv:
                return i
        return None

    def revisions(self, i):
        """The revisions change i may have been made at, as (low, high]:
        a deletion lies between the object's last version and the
        version read after it."""
        c = self.changes[i]
        if c["exists"]:
            return number(c["rv"]) - 1, number(c["rv"])
        return number(c["rv"]), number(c.get("deleted_by")) or 1 << 62


def load_workload(path):
    objects = collections.OrderedDict()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            c = json.loads(line)
            o = objects.setdefault(c["uid"], Changed(c))
            o.changes.append(c)
    for o in objects.values():
        o.changes.sort(key=lambda c: c["step"])
    return objects


def load_gaps(paths):
    """Per resource, the (from, to] of each relist after 410 Gone."""
    gaps = collections.defaultdict(list)
    expired = {}
    too_old = re.compile(r" event-controller/(\S+) resourceVersion (\d+) "
                         r"is too old \(410 Gone\)")
    listed = re.compile(r" event-controller/(\S+) listed \S+ at "
                        r"resourceVersion (\d+)")
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = too_old.search(line)
                if m:
                    expired[m.group(1)] = int(m.group(2))
                    continue
                m = listed.search(line)
                if m and m.group(1) in expired:
                    gaps[m.group(1)].append(
                        (expired.pop(m.group(1)), int(m.group(2))))
    return gaps


class Verdict:
    def __init__(self):
        self.counts = dict.fromkeys(KINDS, 0)
        self.lines = []

    def add(self, kind, text, n=1):
        self.counts[kind] += n
        self.lines.append("%s: %s" % (kind, text))


def describe(e):
    return "%s %r at resourceVersion %s" % (
        e["reason"], e.get("note"), e["regarding"].get("resourceVersion"))


def resync_covers(o, reason, note, rv):
    """The indices of the changes a resync Event represents; None when it
    describes no change of o."""
    changes, k = o.changes, o.version(rv)
    if reason == "Deleted" and note == "deleted while not watched":
        if k is None or changes[-1]["exists"]:
            return None
        return list(range(k + 1, len(changes)))
    if k is None:
        return None
    if reason == "Created" and note == "created":
        return list(range(0, k + 1))
    m = re.fullmatch(r"spec changed \(generation (\d+) → (\d+)\)", note)
    if reason == "Updated" and m:
        a, b = int(m.group(1)), int(m.group(2))
        run = [i for i in range(1, k + 1)
               if changes[i]["reason"] == "Updated"
               and changes[i - 1]["generation"] >= a
               and changes[i]["generation"] <= b]
        if (run and changes[run[0] - 1]["generation"] == a
                and changes[k]["generation"] == b):
            return run
        return None
    m = re.fullmatch(r"phase (\S+) → (\S+)", note)
    if reason == "StatusChanged" and m:
        was, now = m.group(1), m.group(2)
        phases = [c["phase"] or "none" for c in changes]
        if phases[k] != now or was not in phases[:k]:
            return None
        start = max(i for i in range(k) if phases[i] == was)
        run = [i for i in range(start + 1, k + 1)
               if changes[i]["reason"] == "StatusChanged"]
        return run or None
    return None


def direct_change(o, e, verdict):
    """The index of the change a direct Event represents, or None."""
    reason, note = e["reason"], e.get("note", "")
    rv = e["regarding"].get("resourceVersion", "")
    found = [i for i, c in enumerate(o.changes)
             if c["reason"] == reason and c["note"] == note]
    if not found:
        others = [c["reason"] for c in o.changes if c["note"] == note]
        verdict.add("wrong reason", "%s %s: %s; %s" % (
            o.resource, o.name, describe(e),
            "its change has reason " + others[0] if others
            else "it describes none of its changes"))
        return None
    i = found[0]
    low, high = o.revisions(i)
    if not low < number(rv) <= high:
        verdict.add("wrong object", "%s %s: %s; the change was made at "
                    "resourceVersion %s" % (o.resource, o.name, describe(e),
                                            o.changes[i]["rv"]
                                            if high == low + 1 else
                                            "(%d, %d]" % (low, high)))
        return None
    return i


def born_in_gap(o, gaps):
    """Created and deleted within one gap: no list ever held it."""
    if o.changes[-1]["exists"]:
        return False
    created = number(o.changes[0]["rv"])
    last = number(o.changes[-1]["rv"])
    return any(start < created and last < to for start, to in gaps)


def check_order(o, seen, verdict):
    """seen: (first, last change represented, Event); an Event whose
    changes all come after another's must not have an older
    resourceVersion, nor have been written before it."""
    seen.sort(key=lambda s: s[:2])
    for n, (_, last, a) in enumerate(seen):
        later = [s for s in seen[n + 1:] if s[0] > last]
        if not later:
            continue
        b = min(later, key=lambda s: s[:2])[2]
        # Events of one observed change share its resourceVersion, and
        # are written together in no particular order.
        if (b["regarding"].get("resourceVersion")
                == a["regarding"].get("resourceVersion")):
            continue
        rv_back = (number(b["regarding"].get("resourceVersion"))
                   < number(a["regarding"].get("resourceVersion")))
        if rv_back or earlier(b, a):
            verdict.add("out of order", "%s %s: %s at %s, then %s at %s" % (
                o.resource, o.name, describe(a), "%s.%s" % written(a),
                describe(b), "%s.%s" % written(b)))


def check_changed(o, got, gaps, verdict):
    n = len(o.changes)
    direct, resync = [0] * n, [0] * n
    seen = []
    for e in got:
        count = copies(e)
        note = e.get("note", "")
        if note.endswith(RESYNC):
            covers = resync_covers(o, e["reason"], note[:-len(RESYNC)],
                                   e["regarding"].get("resourceVersion"))
            if covers is None:
                verdict.add("wrong reason", "%s %s: %s describes none of "
                            "its changes" % (o.resource, o.name,
                                             describe(e)))
                continue
            for i in covers:
                resync[i] += count
            if covers:
                seen.append((covers[0], covers[-1], e))
            continue
        i = direct_change(o, e, verdict)
        if i is not None:
            direct[i] += count
            seen.append((i, i, e))
    collapsed = born_in_gap(o, gaps)
    for i, c in enumerate(o.changes):
        if c["reason"] is None:
            continue
        what = "%s %s: %s %r at resourceVersion %s" % (
            o.resource, o.name, c["reason"], c["note"], c["rv"])
        if direct[i] + resync[i] == 0:
            if not collapsed:
                verdict.add("missed", what)
            continue
        extra = direct[i] + resync[i] - 1
        if extra:
            verdict.add("duplicated", "%s, %d Events direct, %d at resync"
                        % (what, direct[i], resync[i]), extra)
    check_order(o, seen, verdict)


def regarding_ok(o, e, namespace):
    ref = e["regarding"]
    return (ref.get("kind") == o.kind and ref.get("name") == o.name
            and ref.get("namespace") == namespace)


def verify_workload(record, paths, logs):
    objects = load_workload(record)
    events = load_events(paths)
    gaps = load_gaps(logs)
    verdict = Verdict()
    by_uid = collections.defaultdict(list)
    for e in events:
        core = e.get("deprecatedFirstTimestamp") and not e.get("eventTime")
        lacks = core_incomplete(e) if core else incomplete(e)
        ref = e.get("regarding") or {}
        o = objects.get(ref.get("uid"))
        if lacks:
            verdict.add("wrong object", "%s lacks %s" % (
                e["metadata"]["name"], lacks))
        elif o is None or not regarding_ok(o, e, e["metadata"]["namespace"]):
            verdict.add("wrong object", "%s is about %s %s uid %s: %s" % (
                e["metadata"]["name"], ref.get("kind"), ref.get("name"),
                ref.get("uid"), describe(e)))
        else:
            by_uid[o.uid].append(e)
    for o in objects.values():
        check_changed(o, by_uid.get(o.uid, []), gaps.get(o.resource, []),
                      verdict)
    for line in verdict.lines:
        print(line)
    changes = sum(len(o.changes) for o in objects.values())
    relists = sum(len(g) for g in gaps.values())
    print("%d changes to %d objects, %d Events, %d relists after 410 Gone" %
          (changes, len(objects), len(events), relists))
    print(", ".join("%s %d" % (k, verdict.counts[k]) for k in KINDS))
    return 1 if verdict.lines else 0


def main():
    args, logs = sys.argv[1:], []
    while len(args) >= 2 and args[0] == "--log":
        logs.append(args[1])
        args = args[2:]
    if len(args) < 2:
        sys.exit("usage: verify-events.py [--log LOG]... RECORD "
                 "EVENTS.json...")
    with open(args[0], encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "")
    if first.startswith("{"):
        sys.exit(verify_workload(args[0], args[1:], logs))
    verify_test_record(args[0], args[1:])


if __name__ == "__main__":
    main()
