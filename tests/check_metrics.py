#!/usr/bin/python3
"""Scrapes a /metrics endpoint and checks it against the Prometheus text format 0.0.4.

Every line must match the format's grammar (`# HELP`, `# TYPE`, samples
`name{labels} value`); each family is declared once, before its samples, which are
contiguous; the reference parser (prometheus_client.parser.text_string_to_metric_families)
must accept the whole text and find every sample line; histogram buckets are cumulative
and end with `+Inf` equal to `_count`; counters are never negative. Then every EXPECT holds
exactly: `name{label="v",...}=VALUE` (labels in any order; VALUE a number, or `absent`).

Usage: check_metrics.py URL [EXPECT...]      exit 0 when all holds, 1 with the reasons.
Run by tests/test_metrics.c (on /usr/bin/python3, which has prometheus_client).
"""
import re
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)"
HELP_RE = re.compile(r"^# HELP (%s) (?:[^\\\n]|\\\\|\\n)*$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
SAMPLE_RE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?,?\})? (%s)(?: -?[0-9]+)?$"
                       % (NAME, LABEL, LABEL, VALUE))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def key(name, labels):
    """A sample's identity: its name and its labels sorted."""
    if not labels:
        return name
    return name + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"


def family_of(sample, types):
    """The family a sample name belongs to, given the declared TYPEs."""
    if sample in types:
        return sample
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix) and sample[: -len(suffix)] in types:
            return sample[: -len(suffix)]
    return None


def check_grammar(text, problems):
    """Checks every line; returns the number of sample lines."""
    if not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    types, helps, done, current, samples = {}, set(), set(), None, 0
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            m = HELP_RE.match(line)
            if not m:
                problems.append("line %d: bad HELP: %r" % (n, line))
                continue
            if m.group(1) in helps:
                problems.append("line %d: second HELP for %s" % (n, m.group(1)))
            helps.add(m.group(1))
        elif line.startswith("# TYPE "):
            m = TYPE_RE.match(line)
            if not m:
                problems.append("line %d: bad TYPE: %r" % (n, line))
                continue
            name = m.group(1)
            if name in types:
                problems.append("line %d: second TYPE for %s" % (n, name))
            if current:
                done.add(current)
            types[name] = m.group(2)
            current = name
        elif line.startswith("#"):
            continue  # a comment
        else:
            m = SAMPLE_RE.match(line)
            if not m:
                problems.append("line %d: not a sample line of the format: %r" % (n, line))
                continue
            samples += 1
            fam = family_of(m.group(1), types)
            if fam is None:
                problems.append("line %d: %s has no TYPE before it" % (n, m.group(1)))
            elif fam != current or fam in done:
                problems.append("line %d: %s is apart from its family's other lines" % (n, m.group(1)))
            elif types[fam] in SUFFIXES and m.group(1)[len(fam):] not in SUFFIXES[types[fam]]:
                problems.append("line %d: %s is not a %s sample" % (n, m.group(1), types[fam]))
    return samples


def check_parsed(text, sample_lines, problems):
    """The reference parser's view: {key: value}, with histogram and counter checks."""
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser refuses the text
        problems.append("prometheus_client refuses the text: %s" % e)
        return {}
    values, count = {}, 0
    for fam in families:
        buckets = {}
        for s in fam.samples:
            count += 1
            k = key(s.name, s.labels)
            if k in values:
                problems.append("duplicate sample %s" % k)
            values[k] = s.value
            if fam.type == "counter" and s.value < 0:
                problems.append("counter %s is negative" % k)
            if fam.type == "histogram" and s.name.endswith("_bucket"):
                rest = dict(s.labels)
                le = rest.pop("le")
                buckets.setdefault(key(fam.name, rest), []).append((float(le), s.value))
        for base, bs in buckets.items():
            bounds = [b for b, _ in bs]
            if bounds != sorted(bounds) or bounds[-1] != float("inf"):
                problems.append("%s: buckets not in order or no +Inf" % base)
            if any(b[1] < a[1] for a, b in zip(bs, bs[1:])):
                problems.append("%s: buckets are not cumulative" % base)
            name, _, labels = base.partition("{")
            ck = name + "_count" + ("{" + labels if labels else "")
            if values.get(ck) != bs[-1][1]:
                problems.append("%s: +Inf bucket %s != _count %s" % (base, bs[-1][1], values.get(ck)))
    if count != sample_lines:
        problems.append("the parser found %d samples, the text has %d sample lines" % (count, sample_lines))
    return values


def check_expect(values, expect, problems):
    m = re.match(r"^(%s)(?:\{(.*)\})?=(.+)$" % NAME, expect)
    if not m:
        problems.append("bad expectation %r" % expect)
        return
    labels = dict(LABEL_RE.findall(m.group(2) or ""))
    k = key(m.group(1), labels)
    got = values.get(k)
    if m.group(3) == "absent":
        if got is not None:
            problems.append("%s is %s, expected absent" % (k, got))
    elif got is None:
        problems.append("%s is absent, expected %s" % (k, m.group(3)))
    elif got != float(m.group(3)):
        problems.append("%s is %s, expected %s" % (k, got, m.group(3)))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    url = sys.argv[1]
    problems = []
    with urllib.request.urlopen(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode("utf-8")
    if not ctype.startswith("text/plain; version=0.0.4"):
        problems.append("Content-Type is %r, not text/plain; version=0.0.4" % ctype)
    lines = check_grammar(text, problems)
    values = check_parsed(text, lines, problems)
    for e in sys.argv[2:]:
        check_expect(values, e, problems)
    for p in problems:
        print("check_metrics: %s: %s" % (url, p), file=sys.stderr)
    print("check_metrics: %s: %d lines, %d samples, %d expectations, %d problems"
          % (url, text.count("\n"), lines, len(sys.argv) - 2, len(problems)), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
