#!/usr/bin/env python3
"""Compares what a test did with the Events the apiserver holds.

    verify-events.py RECORD EVENTS.json...

RECORD has one line per expected Event, in the order of the changes:
"NAME<TAB>REASON<TAB>NOTE", NOTE a Python regular expression that must
match the whole note.  Object names must be unique in the record: an
object is found by name and its Events by regarding.uid.  EVENTS.json
files are events.k8s.io/v1 EventLists.

Prints one line per problem: missed, duplicated, unexpected, out of
order, incomplete; then a summary.  Exits 1 when there is a problem.
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


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: verify-events.py RECORD EVENTS.json...")
    expected = load_record(sys.argv[1])
    events = load_events(sys.argv[2:])
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


if __name__ == "__main__":
    main()
