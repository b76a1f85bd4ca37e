"""The configuration keys mta/config.c knows (its keys[] table) are the
keys postern.conf(5) documents, in both directions, with the same
defaults; and docs/postern.conf.sample names only real keys.  A key added
to the table without a manual entry, or an entry left after its key was
removed, fails here rather than drifting.

The manual documents a key as `.It Cm key No [default]` inside one of
the `.Bl -tag -width Ds` lists of its key sections; the other `.It Cm`
items (TLS levels, policy table attributes) are in lists of other
widths.  No postern process is started."""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.join(HERE, "..", "..")
CONFIG_C = os.path.join(TOP, "mta", "config.c")
MANUAL = os.path.join(TOP, "man", "postern.conf.5")
SAMPLE = os.path.join(TOP, "docs", "postern.conf.sample")

# Defaults the manual describes in words: a build-time value or one taken
# from the system.  Every other key's default must read as in keys[].
DESCRIBED = {
    "hostname": "(the system's mail name)",
    "spool_dir": "/var/spool/postern",
    "aliases": "/etc/aliases on Debian, /etc/mail/aliases on FreeBSD",
    "resolver_option": "(none)",
    "resolver_config": "(none)",
}

ENTRY = re.compile(r'^\s*\{\s*"([^"]+)",\s*C_[A-Z]+,\s*[^,]*,\s*'
                   r'("[^"]*"|[A-Z_]+)\s*,')


def code_keys():
    """keys[] of mta/config.c: name -> default as written there."""
    with open(CONFIG_C) as f:
        src = f.read()
    start = src.index("static const struct ckey keys[] = {")
    table = src[start:src.index("\n};", start)]
    keys = {}
    for line in table.splitlines()[1:]:
        if not line.strip():
            continue
        m = ENTRY.match(line)
        assert m, "keys[] line not understood: %r" % line
        assert m.group(1) not in keys, "key twice in keys[]: " + m.group(1)
        default = m.group(2)
        keys[m.group(1)] = default[1:-1] if default.startswith('"') \
            else default
    assert len(keys) > 50, "keys[] looks truncated: %d keys" % len(keys)
    return keys


def manual_keys():
    """postern.conf(5)'s key entries: name -> default as documented."""
    with open(MANUAL) as f:
        lines = f.read().splitlines()
    keys, depth, inkeys = {}, 0, []
    for n, line in enumerate(lines, 1):
        if line.startswith(".Bl"):
            inkeys.append(line.split() == [".Bl", "-tag", "-width", "Ds"])
        elif line.startswith(".El"):
            inkeys.pop()
        elif line.startswith(".It Cm ") and inkeys and inkeys[-1]:
            m = re.match(r"^\.It Cm ([a-z0-9_]+) No \[(.*)\]$", line)
            assert m, "postern.conf.5:%d: key entry without " \
                "'.It Cm key No [default]': %r" % (n, line)
            assert m.group(1) not in keys, \
                "postern.conf.5:%d: %s documented twice" % (n, m.group(1))
            keys[m.group(1)] = m.group(2)
    assert not inkeys, "postern.conf.5: unbalanced .Bl/.El"
    return keys


def test_every_key_in_the_code_is_documented():
    missing = sorted(set(code_keys()) - set(manual_keys()))
    assert missing == [], "keys in mta/config.c without an entry in " \
        "man/postern.conf.5: %s" % ", ".join(missing)


def test_every_documented_key_is_in_the_code():
    extra = sorted(set(manual_keys()) - set(code_keys()))
    assert extra == [], "keys documented in man/postern.conf.5 that " \
        "mta/config.c does not know: %s" % ", ".join(extra)


def test_documented_defaults_match_the_code():
    code, manual = code_keys(), manual_keys()
    wrong = []
    for key in sorted(set(code) & set(manual)):
        want = DESCRIBED.get(key, code[key] if code[key] else "(empty)")
        if manual[key] != want:
            wrong.append("%s: code %r, manual [%s]" %
                         (key, code[key], manual[key]))
    assert wrong == [], "defaults differ: " + "; ".join(wrong)


def test_sample_names_only_real_keys():
    code = code_keys()
    seen, unknown = 0, []
    with open(SAMPLE) as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"^#?([a-z][a-z0-9_]*) = ", line)
            if not m:
                continue
            seen += 1
            if m.group(1) not in code:
                unknown.append("postern.conf.sample:%d: %s" %
                               (n, m.group(1)))
    assert seen > 10, "sample looks empty: %d key lines" % seen
    assert unknown == [], "unknown keys: " + ", ".join(unknown)
