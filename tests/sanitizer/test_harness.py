"""The integration harness fails a test whose postern processes printed a
sanitizer report: shown by running tests/integration/fault_scenarios.py
in a pytest of its own, once against the clean sanitized postern (every
scenario passes) and once against tests/sanitizer/postern-faulty, the
same objects with tests/sanitizer/fault.c wrapped around three functions
(every scenario must fail with its report).  Run by
"make check-sanitizer-harness" and the sanitizer stage of "make check",
with POSTERN_BIN and POSTERN_FAULTY_BIN set; never by the normal pass.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(REPO, "tests", "integration", "fault_scenarios.py")

# Each scenario, and what its failure message must carry: the kind of
# report and the faulty function's frame.
EXPECTED = {
    "test_session_child_heap_overflow":
        ["ERROR: AddressSanitizer: heap-buffer-overflow",
         "in __wrap_smtp_helo_parse"],
    "test_session_child_undefined_behaviour":
        ["runtime error: signed integer overflow",
         "SUMMARY: UndefinedBehaviorSanitizer", "fault.c"],
    "test_policy_command_leak":
        ["ERROR: LeakSanitizer: detected memory leaks",
         "in __wrap_mx_route_build"],
    "test_root_local_delivery_child":
        ["ERROR: AddressSanitizer: heap-use-after-free",
         "in __wrap_aliases_expand"],
}

# The inner runs take loopback blocks and a test DNS address of their own
# (conftest.py), apart from any run beside them.
INNER_ENV = {"POSTERN_TEST_BLOCK": "3000",
             "POSTERN_TEST_DNS_ADDR": "127.0.54.1"}


def binary(var):
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        pytest.skip("%s not set (make check-sanitizer-harness)" % var)
    return path


def run_scenarios(binary_path, tmp_path):
    """(returncode, {test name: failure text or None}, whole output)."""
    xml = tmp_path / "junit.xml"
    # The scenarios open their directories to user nobody up to /tmp:
    # not through pytest's /tmp/pytest-of-USER, which every pytest
    # session on the host makes private again.  TMPDIR: the report
    # directories the faulty run leaves go with the rest.
    base = tempfile.mkdtemp(prefix="postern-faults.")
    os.chmod(base, 0o755)
    env = dict(os.environ, POSTERN_BIN=binary_path, TMPDIR=base,
               **INNER_ENV)
    try:
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--basetemp=%s" % os.path.join(base, "t"),
             "--junitxml=%s" % xml, SCENARIOS],
            env=env, cwd=REPO, capture_output=True, timeout=240)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert xml.exists(), out
    results = {}
    for case in ET.parse(str(xml)).getroot().iter("testcase"):
        bad = [e for e in case if e.tag in ("error", "failure")]
        results[case.get("name")] = "\n".join(
            (e.get("message") or "") + "\n" + (e.text or "") for e in bad
        ) if bad else None
    return r.returncode, results, out


def test_clean_build_passes_the_scenarios(tmp_path):
    rc, results, out = run_scenarios(binary("POSTERN_BIN"), tmp_path)
    assert sorted(results) == sorted(EXPECTED), out
    assert all(v is None for v in results.values()), out
    assert rc == 0, out


def test_faulty_build_fails_each_scenario_with_its_report(tmp_path):
    rc, results, out = run_scenarios(binary("POSTERN_FAULTY_BIN"), tmp_path)
    assert rc != 0, out
    assert sorted(results) == sorted(EXPECTED), out
    for name, wants in EXPECTED.items():
        text = results[name]
        assert text is not None, "%s passed with the faulty build\n%s" % (
            name, out)
        assert "sanitizer report(s) from postern processes" in text, text
        for want in wants:
            assert want in text, "%s: %r not in\n%s" % (name, want, text)
