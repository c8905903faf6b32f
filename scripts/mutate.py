#!/usr/bin/env python3
"""mutate.py - a small mutation tester for actorcore's C sources (issue 17).

A mutant is one small change to one C source file: an operator swapped, a constant moved by
one, an error return turned into success, a condition negated, a call deleted. Each mutant is
applied to a copy of the tree (never to the working tree), rebuilt incrementally in one build
folder reused across mutants, and run against the selected CTest suites:

  killed     a test failed (or crashed)          counts for the score
  timeout    the tests ran past --timeout        counted as killed
  survived   every selected test passed          counts against the score
  no-build   the mutant did not compile          left out of the score

score = killed (timeouts included) / (killed + survived).

The mutants are chosen deterministically: the same --seed on the same sources gives the same
mutants. Each has a short id (a hash of its file, position and replacement) that --id runs
again on its own, e.g. after writing the test meant to kill it. docs/mutation.md has more.

Standard library only. Usage: scripts/mutate.py [--count N] [--seed S] [--files F...]
                                                 [--tests REGEX] [--report FILE]
"""

import argparse
import difflib
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

VERSION = "1.0"

# ---------------------------------------------------------------------------------------------
# Lexing: just enough C to find operators, literals and statements outside comments, strings
# and preprocessor lines.

PUNCT = sorted(
    """>>= <<= ... -> ++ -- << >> <= >= == != && || *= /= %= += -= &= ^= |= ##
       [ ] ( ) { } . & * + - ~ ! / % < > ^ | ? : ; = , #""".split(),
    key=len,
    reverse=True,
)
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMBER_RE = re.compile(r"\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*")
INT_RE = re.compile(r"^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)$")
KEYWORDS = set(
    """auto break case char const continue default do double else enum extern float for goto
       if inline int long register restrict return short signed sizeof static struct switch
       typedef union unsigned void volatile while _Bool _Static_assert static_assert bool
       _Alignof _Generic""".split()
)
# Calls whose deletion no test can see: logging only.
LOG_CALLS = {"zsys_debug", "zsys_info", "zsys_notice", "zsys_warning", "zsys_error"}
# Variables that carry an error code by convention (`return rc;`).
ERROR_VARS = {"rc", "ret", "code", "status", "err_code"}


class Tok:
    __slots__ = ("kind", "text", "start", "end", "line")

    def __init__(self, kind, text, start, end, line):
        self.kind, self.text, self.start, self.end, self.line = kind, text, start, end, line

    def __repr__(self):
        return "Tok(%s %r @%d)" % (self.kind, self.text, self.line)


def lex(src):
    """Tokens of src with comments, string and character literals and preprocessor lines
    (including #include and continued #define lines) left out; code inside `#if 0` is left
    out too. String and character literals become single 'str' tokens so that statement
    shapes stay intact but nothing inside them is ever mutated."""
    toks = []
    i, n, line = 0, len(src), 1
    at_line_start = True
    if0_depth = 0  # > 0 while inside an `#if 0` block (nesting counted)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            at_line_start = True
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "/" and src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += src.count("\n", i, j)
            i = j
            continue
        if c == "#" and at_line_start:
            j = i
            while True:  # the directive runs to an unescaped newline
                k = src.find("\n", j)
                if k < 0:
                    k = n
                    break
                if src[k - 1] == "\\" or (src[k - 1] == "\r" and src[k - 2] == "\\"):
                    j = k + 1
                    continue
                break
            directive = src[i:k]
            words = directive[1:].split()
            if words:
                if words[0] in ("if", "ifdef", "ifndef"):
                    if if0_depth or (words[0] == "if" and words[1:2] == ["0"]):
                        if0_depth += 1
                elif words[0] in ("else", "elif") and if0_depth == 1:
                    if0_depth = 0
                elif words[0] == "endif" and if0_depth:
                    if0_depth -= 1
            line += src.count("\n", i, k)
            i = k
            continue
        at_line_start = False
        start = i
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            i = min(j + 1, n)
            kind, text = "str", src[start:i]
        elif c.isalpha() or c == "_":
            m = IDENT_RE.match(src, i)
            i = m.end()
            kind, text = "id", m.group()
            if i < n and src[i] in "\"'" and text in ("L", "u", "U", "u8"):
                continue  # a prefixed literal: the literal follows as its own token
        elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = NUMBER_RE.match(src, i)
            i = m.end()
            kind, text = "num", m.group()
        else:
            for p in PUNCT:
                if src.startswith(p, i):
                    break
            else:
                p = c
            i += len(p)
            kind, text = "op", p
        if not if0_depth:
            toks.append(Tok(kind, text, start, i, line))
        line += src.count("\n", start, i)
    return toks


def matching(toks, k):
    """Index of the token closing the bracket opened at toks[k], or None."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    open_, close = toks[k].text, pairs[toks[k].text]
    depth = 0
    for j in range(k, len(toks)):
        t = toks[j].text
        if toks[j].kind != "op":
            continue
        if t == open_:
            depth += 1
        elif t == close:
            depth -= 1
            if depth == 0:
                return j
    return None


# ---------------------------------------------------------------------------------------------
# Mutation operators. Each candidate is a Mutant; the classes are:
#   relational  < <= > >= == != (a boundary moved or a direction swapped)
#   logical     && <-> ||
#   arithmetic  binary + - * swapped, += <-> -=, integer literal n -> n-1 (off by one)
#   constant    integer literal 0 <-> 1, n -> n+1
#   return      an error return turned into success (`return -1;`, `return rc;` -> `return 0;`)
#   negate      if (x) -> if (!(x))
#   delete      a call statement deleted

CLASSES = ("relational", "logical", "arithmetic", "constant", "return", "negate", "delete")

RELATIONAL = {
    "<": ("<=", ">"),
    "<=": ("<", ">="),
    ">": (">=", "<"),
    ">=": (">", "<="),
    "==": ("!=",),
    "!=": ("==",),
}
ARITH = {"+": ("-",), "-": ("+",), "*": ("+",), "+=": ("-=",), "-=": ("+=",)}


class Mutant:
    __slots__ = ("file", "start", "end", "repl", "cls", "line", "before", "after", "id")

    def __init__(self, file, start, end, repl, cls, line, before, after):
        self.file, self.start, self.end, self.repl = file, start, end, repl
        self.cls, self.line, self.before, self.after = cls, line, before, after
        key = "%s:%d:%d:%s" % (file, start, end, repl)
        self.id = hashlib.sha1(key.encode()).hexdigest()[:8]

    def apply(self, src):
        return src[: self.start] + self.repl + src[self.end :]


def short(text, limit=48):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def operand_end(t):
    """Whether a token can end an operand (so that a following + - * is binary)."""
    return t.kind in ("id", "num", "str") and t.text not in KEYWORDS or t.text in (")", "]")


def bump_int(text, delta):
    """The integer literal text moved by delta, same base and suffix; None if not an integer
    literal or the result would be negative."""
    m = INT_RE.match(text)
    if not m:
        return None
    digits, suffix = m.groups()
    if digits[:2] in ("0x", "0X"):
        v = int(digits, 16) + delta
        return None if v < 0 else digits[:2] + format(v, "x") + suffix
    if len(digits) > 1 and digits[0] == "0":
        v = int(digits, 8) + delta
        return None if v < 0 else "0" + format(v, "o") + suffix
    v = int(digits) + delta
    return None if v < 0 else str(v) + suffix


def int_value(text):
    digits = INT_RE.match(text).group(1)
    if digits[:2] in ("0x", "0X"):
        return int(digits, 16)
    return int(digits, 8) if len(digits) > 1 and digits[0] == "0" else int(digits)


def find_mutants(rel, src):
    """Every candidate mutant of one source file, in file order."""
    toks = lex(src)
    out = []
    seen = set()

    def add(cls, start, end, repl, line, before, after):
        key = (start, end, repl)
        if key in seen or src[start:end] == repl:
            return
        seen.add(key)
        out.append(Mutant(rel, start, end, repl, cls, line, before, after))

    # Spans left alone: assert() arguments (compiled out in Release, NDEBUG) and static asserts.
    skip = [False] * len(toks)
    for k, t in enumerate(toks):
        if t.kind == "id" and t.text in ("assert", "static_assert", "_Static_assert"):
            if k + 1 < len(toks) and toks[k + 1].text == "(":
                j = matching(toks, k + 1)
                if j is not None:
                    for x in range(k, j + 1):
                        skip[x] = True

    def context(k, repl):
        """`i < n` -> `i <= n`: the token with its neighbours on the same line, reaching past
        punctuation to a name or a number on each side (three tokens at most)."""
        t = toks[k]
        lo = hi = k
        for step in (-1, 1):
            j = k
            for _ in range(3):
                if not (0 <= j + step < len(toks)) or toks[j + step].line != t.line:
                    break
                j += step
                if toks[j].kind != "op":
                    break
            if step < 0:
                lo = j
            else:
                hi = j
        a, b = toks[lo].start, toks[hi].end
        return short(src[a:b]), short(src[a : t.start] + repl + src[t.end : b])

    def negation(k, c):
        """The negated condition of toks[k+1..c-1]: `!x` -> `x` when the `!` applies to the
        whole condition, else `!(cond)`."""
        inner = src[toks[k].end : toks[c].start]
        if toks[k + 1].text == "!" and k + 2 < c:
            depth = 0
            for x in toks[k + 2 : c]:
                if x.text in ("(", "["):
                    depth += 1
                elif x.text in (")", "]"):
                    depth -= 1
                elif depth == 0 and x.kind == "op" and x.text not in (".", "->", "++", "--"):
                    break
            else:
                if toks[k + 2].text == "(" and matching(toks, k + 2) == c - 1:
                    return src[toks[k + 2].end : toks[c - 1].start]  # !(x) -> x
                return src[toks[k + 1].end : toks[c].start]
        return "!(" + inner + ")"

    paren = 0
    for k, t in enumerate(toks):
        prev = toks[k - 1] if k else None
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if t.kind == "op" and t.text in "([":
            paren += 1
        elif t.kind == "op" and t.text in ")]":
            paren -= 1
        if skip[k]:
            continue
        if t.kind == "op" and t.text in RELATIONAL:
            for r in RELATIONAL[t.text]:
                add("relational", t.start, t.end, r, t.line, *context(k, r))
        elif t.kind == "op" and t.text in ("&&", "||"):
            r = "||" if t.text == "&&" else "&&"
            add("logical", t.start, t.end, r, t.line, *context(k, r))
        elif t.kind == "op" and t.text in ARITH:
            binary = t.text.endswith("=") or (
                prev is not None
                and operand_end(prev)
                and src[t.start - 1 : t.start].isspace()
                and src[t.end : t.end + 1].isspace()
            )
            if binary:  # formatted `a * b`: a pointer declarator or deref is `T *p` / `*p`
                for r in ARITH[t.text]:
                    add("arithmetic", t.start, t.end, r, t.line, *context(k, r))
        elif t.kind == "num" and INT_RE.match(t.text):
            # `char buf[64]` in a declaration: resizing a buffer is rarely observable.
            if (
                prev is not None
                and prev.text == "["
                and nxt is not None
                and nxt.text == "]"
                and k >= 3
                and toks[k - 2].kind == "id"
                and (toks[k - 3].kind == "id" and toks[k - 3].text not in KEYWORDS - {
                    "char", "int", "long", "short", "unsigned", "signed", "double", "float",
                    "const", "bool", "_Bool"} or toks[k - 3].text == "*")
            ):
                continue
            value = int_value(t.text)
            if value == 1 and prev is not None and prev.text == "-" and k >= 2 and \
                    toks[k - 2].text == "return":
                continue  # `return -1;` -> `return 0;` is the return class's
            if value in (0, 1):
                r = bump_int(t.text, 1 - 2 * value)
                add("constant", t.start, t.end, r, t.line, *context(k, r))
            else:
                r = bump_int(t.text, 1)
                add("constant", t.start, t.end, r, t.line, *context(k, r))
                r = bump_int(t.text, -1)
                add("arithmetic", t.start, t.end, r, t.line, *context(k, r))
        elif t.kind == "id" and t.text == "return" and nxt is not None:
            # return -N;  return rc;  return AC_E...;  return err->code;  return fail(...);
            j = k + 1
            end = None
            if nxt.text == "-" and k + 3 < len(toks) and toks[k + 2].kind == "num" \
                    and toks[k + 3].text == ";":
                end = k + 3
            elif nxt.kind == "id" and k + 2 < len(toks) and toks[k + 2].text == ";" and (
                nxt.text in ERROR_VARS or re.match(r"^AC_E[A-Z_]+$", nxt.text)
            ):
                end = k + 2
            elif [x.text for x in toks[j : j + 4]] == ["err", "->", "code", ";"]:
                end = k + 4
            elif nxt.kind == "id" and re.search(r"fail|error", nxt.text) and k + 2 < len(toks) \
                    and toks[k + 2].text == "(":
                c = matching(toks, k + 2)
                if c is not None and c + 1 < len(toks) and toks[c + 1].text == ";":
                    call = src[nxt.start : toks[c].end]
                    a, b = nxt.start, toks[c + 1].end
                    r = "(" + call + ", 0);"
                    add("return", a, b, r, t.line, "return " + short(call + ";", 40),
                        "return (" + short(call, 30) + ", 0);")
                    continue
            if end is not None:
                a, b = nxt.start, toks[end].end
                add("return", a, b, "0;", t.line, short(src[t.start : b]), "return 0;")
        elif t.kind == "id" and t.text == "if" and nxt is not None and nxt.text == "(":
            c = matching(toks, k + 1)
            if c is not None and c > k + 2:
                inner = src[nxt.end : toks[c].start]
                neg = negation(k + 1, c)
                add("negate", nxt.start, toks[c].end, "(" + neg + ")", t.line,
                    "if (" + short(inner) + ")", "if (" + short(neg) + ")")
        if (
            t.kind == "id"
            and t.text not in KEYWORDS
            and paren == 0
            and prev is not None
            and prev.text in (";", "{", "}")
        ) or (
            t.text == "("
            and nxt is not None
            and nxt.text == "void"
            and paren == 1
            and prev is not None
            and prev.text in (";", "{", "}")
        ):
            # A call statement: [(void)] f [. g | -> g]* ( ... ) ;
            j = k
            if t.text == "(":
                if k + 3 >= len(toks) or toks[k + 2].text != ")" or toks[k + 3].kind != "id":
                    continue
                j = k + 3
            name = toks[j].text
            j += 1
            while j + 1 < len(toks) and toks[j].text in (".", "->") and toks[j + 1].kind == "id":
                j += 2
            if j < len(toks) and toks[j].text == "(" and name not in LOG_CALLS:
                c = matching(toks, j)
                if c is not None and c + 1 < len(toks) and toks[c + 1].text == ";":
                    stmt = src[t.start : toks[c + 1].end]
                    if not any(skip[k : c + 2]):
                        add("delete", t.start, toks[c + 1].end, "", t.line, short(stmt),
                            "(deleted)")
    return out


def select(cands, count, seed, by_class=True):
    """count mutants out of cands, deterministic for a seed. By class (the default): each pick
    first draws a class among those with candidates left, then a candidate of that class, so a
    small sample covers every operator instead of being mostly literals."""
    rng = random.Random(seed)
    if count >= len(cands):
        return list(cands)
    if not by_class:
        return rng.sample(cands, count)
    pools = {c: [m for m in cands if m.cls == c] for c in CLASSES}
    picked = []
    while len(picked) < count:
        avail = [c for c in CLASSES if pools[c]]
        pool = pools[rng.choice(avail)]
        picked.append(pool.pop(rng.randrange(len(pool))))
    return picked


# ---------------------------------------------------------------------------------------------
# The copy of the tree, the build and the tests.


def log(msg=""):
    print(msg, flush=True)


def kill_strays(build):
    """Kills every process still running an executable of the build folder: the brokers and
    workers a service suite started in sessions of their own, which outlive a suite that
    was killed on its timeout (or that crashed) and would load the next mutant's run.
    Returns how many there were."""
    root = os.path.realpath(build) + os.sep
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            exe = os.readlink(os.path.join("/proc", pid, "exe"))
        except OSError:
            continue
        if exe.startswith(root):
            try:
                os.kill(int(pid), signal.SIGKILL)
                n += 1
            except ProcessLookupError:
                pass
    return n


def run(cmd, cwd=None, timeout=None, logfile=None):
    """(returncode or None on timeout, output) of cmd, run in its own process group so that a
    timeout kills the tests and everything they started (and nothing else)."""
    with tempfile.TemporaryFile(mode="w+b") as out:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        except BaseException:
            if p.returncode is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait()
            raise
        if rc is None:  # the leader is not reaped yet, so its group id is still ours
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if logfile:
        with open(logfile, "w") as f:
            f.write(text)
    return rc, text


def sync_tree(src_root, dst_root):
    """Makes dst_root a copy of src_root's project files (not .git, build*/, var/), copying
    only files whose bytes differ so that unchanged files keep their times and the build
    stays incremental."""

    def skipped(rel_dir, name):
        return rel_dir == "" and (name == ".git" or name.startswith("build") or name == "var")

    wanted = set()
    for dirpath, dirnames, filenames in os.walk(src_root):
        rel_dir = os.path.relpath(dirpath, src_root)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = sorted(d for d in dirnames if not skipped(rel_dir, d))
        os.makedirs(os.path.join(dst_root, rel_dir), exist_ok=True)
        for name in filenames:
            if skipped(rel_dir, name):
                continue
            rel = os.path.join(rel_dir, name)
            wanted.add(rel)
            s, d = os.path.join(src_root, rel), os.path.join(dst_root, rel)
            if os.path.islink(s):
                if not os.path.islink(d) or os.readlink(d) != os.readlink(s):
                    if os.path.lexists(d):
                        os.remove(d)
                    os.symlink(os.readlink(s), d)
                continue
            if os.path.isfile(d) and not os.path.islink(d):
                with open(s, "rb") as a, open(d, "rb") as b:
                    if a.read() == b.read():
                        continue
            if os.path.lexists(d):
                os.remove(d)
            shutil.copy2(s, d)
    for dirpath, dirnames, filenames in os.walk(dst_root):
        rel_dir = os.path.relpath(dirpath, dst_root)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = [d for d in dirnames if not skipped(rel_dir, d)]
        for name in filenames:
            rel = os.path.join(rel_dir, name)
            if not skipped(rel_dir, name) and rel not in wanted:
                os.remove(os.path.join(dst_root, rel))
    os.makedirs(os.path.join(dst_root, "var"), exist_ok=True)


def write_bumped(path, text):
    """Writes text to path with a modification time later than the file's current one, so
    that make rebuilds it even within the same clock tick."""
    old = os.stat(path).st_mtime_ns if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(text)
    now = time.time_ns()
    if now <= old:
        now = old + 1_000_000
    os.utime(path, ns=(now, now))


def ctest_cmd(args):
    cmd = ["ctest", "--stop-on-failure", "-j", str(args.jobs)]
    if args.tests:
        cmd += ["-R", args.tests]
    if args.exclude:
        cmd += ["-E", args.exclude]
    return cmd


def failed_tests(output):
    """Names and statuses of the failed tests from ctest's summary."""
    return re.findall(r"^\s*\d+ - (\S+) \(([^)]*)\)\s*$", output, re.M)


def first_error(output):
    for line in output.splitlines():
        if "error:" in line:
            return short(line.split("error:", 1)[1], 70)
    return "see the build log"


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="mutate.py",
        description="Mutation testing of actorcore: applies one small change at a time to a "
        "copy of the tree, rebuilds, runs the tests and reports which changes no test "
        "noticed (the survivors).",
        epilog="Example: scripts/mutate.py --count 40 --seed 1 --files src/codec/json.c",
    )
    ap.add_argument("--count", type=int, default=40, help="number of mutants (default 40)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--files", nargs="+", metavar="PATH",
                    help="C files or folders to mutate, relative to the project "
                    "(default: every .c under src/)")
    ap.add_argument("--tests", metavar="REGEX",
                    help="ctest -R selection (default: every test but test_service and "
                    "the check_* tree checks)")
    ap.add_argument("--exclude", metavar="REGEX",
                    help="ctest -E selection (default '^(test_service|check_.*)$' when "
                    "--tests is not given, none when it is)")
    ap.add_argument("--classes", metavar="LIST",
                    help="comma-separated operator classes (default all: %s)" % ",".join(CLASSES))
    ap.add_argument("--uniform", action="store_true",
                    help="sample uniformly over all candidates instead of class first")
    ap.add_argument("--id", action="append", metavar="ID",
                    help="run only the mutant(s) with this id (repeatable); --count is ignored")
    ap.add_argument("--timeout", type=float, default=0,
                    help="seconds the tests of one mutant may take (default: 10 x the "
                    "unmutated run, at least 30)")
    ap.add_argument("--jobs", "-j", type=int, default=2, help="build and test jobs (default 2)")
    ap.add_argument("--report", metavar="FILE", default=None,
                    help="survivors report (default build-mutate/survivors.txt)")
    ap.add_argument("--workdir", metavar="DIR",
                    help="keep the copy and its build here and reuse them on the next run "
                    "(faster); default: a temporary folder removed at the end")
    ap.add_argument("--rev", metavar="REV",
                    help="mutate the committed tree of a git revision (git archive) instead "
                    "of the working tree")
    ap.add_argument("--sanitize", action="store_true",
                    help="build the mutants with AddressSanitizer + UBSan (Debug): leaks, "
                         "double frees and reads past a buffer then kill them too (slower)")
    ap.add_argument("--list", action="store_true",
                    help="print the selected mutants and exit without building")
    ap.add_argument("--min-score", type=float, metavar="PCT",
                    help="exit 1 when the score is below PCT")
    ap.add_argument("--version", action="version", version="%(prog)s " + VERSION)
    args = ap.parse_args(argv)
    if args.count < 0 or args.jobs < 1 or args.timeout < 0:
        ap.error("--count, --jobs and --timeout must be positive")
    if args.classes:
        args.classes = [c.strip() for c in args.classes.split(",") if c.strip()]
        bad = [c for c in args.classes if c not in CLASSES]
        if bad:
            ap.error("unknown class %s (classes: %s)" % (", ".join(bad), ", ".join(CLASSES)))
    if args.exclude is None and args.tests is None:
        args.exclude = r"^(test_service|check_.*)$"
    return args, ap


def source_files(root, paths, ap):
    files = []
    for p in paths or ["src"]:
        full = os.path.normpath(os.path.join(root, p))
        if not full.startswith(root + os.sep):
            ap.error("%s is outside the project" % p)
        if os.path.isdir(full):
            for dirpath, dirnames, filenames in os.walk(full):
                dirnames.sort()
                files += [os.path.join(dirpath, f) for f in filenames if f.endswith(".c")]
        elif os.path.isfile(full) and full.endswith(".c"):
            files.append(full)
        else:
            ap.error("%s: not a .c file or a folder" % p)
    return sorted(set(os.path.relpath(f, root) for f in files))


def object_of(build, rel):
    """The object file that rel compiles to in the build, or None when nothing compiles it."""
    suffix = os.sep + rel + ".o"
    for dirpath, _, filenames in os.walk(os.path.join(build, "CMakeFiles")):
        for f in filenames:
            path = os.path.join(dirpath, f)
            if path.endswith(suffix):
                return path
    return None


def main(argv):
    args, ap = parse_args(argv)
    root = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    report = args.report or os.path.join(root, "build-mutate", "survivors.txt")
    shared = os.path.realpath(os.path.join(root, "..", "shared"))

    # The sources mutated are those of the copy (the working tree, or --rev): read them there.
    work = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(
        prefix="actorcore-mutate-")
    if args.workdir and os.path.realpath(work).startswith(root + os.sep) and not \
            os.path.relpath(os.path.realpath(work), root).startswith("build"):
        ap.error("--workdir inside the project must be a build* folder")
    tree = os.path.join(work, os.path.basename(root))
    real_tree = os.path.realpath(tree)
    if real_tree == root or root.startswith(real_tree + os.sep):
        ap.error("--workdir %s would put the copy on the project itself" % args.workdir)
    build = os.path.join(work, "build")
    os.makedirs(work, exist_ok=True)
    mutated = {}  # rel -> original text, restored whatever happens

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    started = time.time()
    try:
        if args.rev:
            stage = tempfile.mkdtemp(prefix="actorcore-rev-")
            try:
                git = subprocess.Popen(["git", "-C", root, "archive", "--format=tar", args.rev],
                                       stdout=subprocess.PIPE)
                subprocess.run(["tar", "-x", "-C", stage], stdin=git.stdout, check=True)
                if git.wait() != 0:
                    log("mutate: git archive %s failed" % args.rev)
                    return 1
                sync_tree(stage, tree)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
        else:
            sync_tree(root, tree)
        # The tests read ../shared/golden relative to the project folder.
        link = os.path.join(work, "shared")
        if os.path.isdir(shared) and not os.path.lexists(link):
            os.symlink(shared, link)

        files = source_files(tree, args.files, ap)
        texts = {}
        cands = []
        for rel in files:
            with open(os.path.join(tree, rel)) as f:
                texts[rel] = f.read()
            cands += find_mutants(rel, texts[rel])
        if args.classes:
            cands = [m for m in cands if m.cls in args.classes]
        per_class = {c: sum(1 for m in cands if m.cls == c) for c in CLASSES}
        log("mutate: %d files, %d candidate mutants (%s)" % (
            len(files), len(cands), ", ".join("%s %d" % kv for kv in per_class.items() if kv[1])))
        if args.id:
            want = set(args.id)
            picked = [m for m in cands if m.id in want]
            missing = want - {m.id for m in picked}
            if missing:
                log("mutate: no mutant with id %s in these files" % ", ".join(sorted(missing)))
                return 2
        else:
            picked = select(cands, args.count, args.seed, by_class=not args.uniform)
        # Grouped by file, so that each file is rebuilt once more only when its group ends.
        picked.sort(key=lambda m: (m.file, m.start, m.end, m.repl))
        if args.list:
            for m in picked:
                log("%s  %s:%d  %-10s  %s -> %s" % (m.id, m.file, m.line, m.cls, m.before,
                                                    m.after))
            return 0
        if not picked:
            log("mutate: nothing to do")
            return 0

        # One build folder, Release without LTO (a link per mutant would re-run LTO), no
        # benchmarks, warnings not fatal (a warning is not a test).
        nolto = os.path.join(work, "no-lto.cmake")
        with open(nolto, "w") as f:
            f.write("# mutate.py: no LTO in the mutation build (runs after project())\n"
                    "set(_CMAKE_C_IPO_SUPPORTED_BY_CMAKE NO)\n")
        log("mutate: copy in %s, configuring and building (-j%d)..." % (tree, args.jobs))
        kind = ["-DCMAKE_BUILD_TYPE=Release", "-DAC_SANITIZE=OFF"]
        if args.sanitize:  # the suites' ASan run: a leak or a bad read fails a test
            kind = ["-DCMAKE_BUILD_TYPE=Debug", "-DAC_SANITIZE=ON"]
            os.environ["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
            os.environ["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        rc, out = run(["cmake", "-S", tree, "-B", build] + kind +
                      ["-DAC_BUILD_BENCH=OFF", "-DAC_WERROR=OFF",
                       "-DCMAKE_PROJECT_INCLUDE=" + nolto], logfile=os.path.join(work, "cmake.log"))
        if rc != 0:
            log(out[-3000:])
            log("mutate: cmake failed on the unmutated tree")
            return 1
        build_cmd = ["cmake", "--build", build, "-j", str(args.jobs)]
        rc, out = run(build_cmd, logfile=os.path.join(work, "build.log"))
        if rc != 0:
            log(out[-3000:])
            log("mutate: the unmutated tree does not build")
            return 1
        for rel in sorted({m.file for m in picked}):
            if object_of(build, rel) is None:
                log("mutate: %s is not compiled by this build; its mutants are skipped" % rel)
        picked = [m for m in picked if object_of(build, m.file) is not None]

        ctest = ctest_cmd(args)
        rc, out = run(ctest + ["-N"], cwd=build)
        ntests = int((re.search(r"Total Tests: (\d+)", out) or [0, 0])[1])
        if ntests == 0:
            log("mutate: the test selection is empty")
            return 2
        t0 = time.time()
        rc, out = run(ctest, cwd=build, logfile=os.path.join(work, "ctest-baseline.log"))
        base = time.time() - t0
        if rc != 0:
            log(out[-3000:])
            log("mutate: tests fail on the unmutated tree: %s" % ", ".join(
                n for n, _ in failed_tests(out)))
            return 1
        timeout = args.timeout or max(30.0, 10 * base)
        log("mutate: %d tests pass unmutated in %.1fs; per-mutant timeout %.0fs; %d mutants, "
            "seed %d" % (ntests, base, timeout, len(picked), args.seed))
        log()

        results = []
        width = len(str(len(picked)))
        for i, m in enumerate(picked, 1):
            path = os.path.join(tree, m.file)
            for rel in list(mutated):  # the previous file's group is over: put it back
                if rel != m.file:
                    write_bumped(os.path.join(tree, rel), mutated.pop(rel))
            mutated.setdefault(m.file, texts[m.file])
            write_bumped(path, m.apply(texts[m.file]))
            t0 = time.time()
            rc, out = run(build_cmd, timeout=1800)
            detail = ""
            if rc != 0:
                status, detail = "no-build", first_error(out)
            else:
                rc, out = run(ctest, cwd=build, timeout=timeout)
                strays = kill_strays(build)
                if strays:
                    detail = "%d leftover process%s killed" % (strays, "" if strays == 1 else "es")
                if rc is None:
                    status = "timeout"
                elif rc == 0:
                    status = "survived"
                else:
                    status = "killed"
                    failed = failed_tests(out)
                    detail = ", ".join("%s%s" % (n, "" if s == "Failed" else " " + s)
                                       for n, s in failed) or "ctest exit %d" % rc
            results.append((m, status, detail))
            log("[%*d/%d] %s:%d  %-10s  %s -> %s  %s%s  (%.0fs)" % (
                width, i, len(picked), m.file, m.line, m.cls, m.before, m.after,
                status.upper(), " (%s)" % detail if detail else "", time.time() - t0))
        for rel in list(mutated):
            write_bumped(os.path.join(tree, rel), mutated.pop(rel))

        killed = sum(1 for _, s, _ in results if s in ("killed", "timeout"))
        timeouts = sum(1 for _, s, _ in results if s == "timeout")
        survived = [r for r in results if r[1] == "survived"]
        nobuild = sum(1 for _, s, _ in results if s == "no-build")
        scored = killed + len(survived)
        score = 100.0 * killed / scored if scored else 0.0
        summary = "killed %d (%d by timeout) / survived %d / no-build %d: score %.1f %% " \
            "(%d of %d), %.0fs" % (killed, timeouts, len(survived), nobuild, score, killed,
                                   scored, time.time() - started)
        log()
        log("mutate: " + summary)

        os.makedirs(os.path.dirname(os.path.abspath(report)), exist_ok=True)
        with open(report, "w") as f:
            f.write("# mutate.py survivors\n# command: scripts/mutate.py %s\n# tests: ctest%s%s\n"
                    "# %s\n\n" % (" ".join(argv), " -R '%s'" % args.tests if args.tests else "",
                                  " -E '%s'" % args.exclude if args.exclude else "", summary))
            f.write("## results\n")
            for m, s, d in results:
                f.write("%s  %s:%d  %-10s  %s -> %s  %s%s\n" % (
                    m.id, m.file, m.line, m.cls, m.before, m.after, s.upper(),
                    " (%s)" % d if d else ""))
            f.write("\n## survivors (%d)\n" % len(survived))
            for m, _, _ in survived:
                f.write("\n%s  %s:%d  %s: %s -> %s\n" % (m.id, m.file, m.line, m.cls, m.before,
                                                         m.after))
                orig = texts[m.file].splitlines(keepends=True)
                new = m.apply(texts[m.file]).splitlines(keepends=True)
                f.writelines(difflib.unified_diff(orig, new, "a/" + m.file, "b/" + m.file, n=3))
        shown = os.path.abspath(report)
        if shown.startswith(os.getcwd() + os.sep):
            shown = os.path.relpath(shown)
        log("mutate: survivors written to %s" % shown)
        for m, _, _ in survived:
            log("  survivor %s  %s:%d  %s -> %s" % (m.id, m.file, m.line, m.before, m.after))
        if args.min_score is not None and score < args.min_score:
            log("mutate: score %.1f %% is below --min-score %.1f %%" % (score, args.min_score))
            return 1
        return 0
    except KeyboardInterrupt:
        log("mutate: interrupted")
        return 130
    finally:
        for rel, text in mutated.items():
            write_bumped(os.path.join(tree, rel), text)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
