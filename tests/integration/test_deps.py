"""What `make check` and `make run` install (tests/deps.sh): no MTA
package, so the system's own MTA stays, and no service of a test package
left enabled to start at boot."""

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DEPS = os.path.join(HERE, "..", "deps.sh")


def packages(mode):
    r = subprocess.run(["sh", DEPS, "list", mode], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def mta_packages(pkgs):
    """Those of Debian's packages pkgs that are (or provide) an MTA."""
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + pkgs,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    found, name = set(), None
    for line in r.stdout.splitlines():
        if line.startswith("Package:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("Provides:") and "mail-transport-agent" in line:
            found.add(name)
    return found


def test_build_is_a_subset_of_test():
    build, test = packages("build"), packages("test")
    assert set(build) <= set(test)
    # make run needs a compiler and the libraries, not the test tools.
    for tool in ("nsd", "python3-pytest", "valgrind", "swaks"):
        assert tool not in build and tool in test


def test_no_mta_installed_by_check_or_run():
    if shutil.which("apt-cache") is None:
        pytest.skip("not Debian")
    pkgs = sorted(set(packages("build") + packages("test")))
    assert "postfix" not in pkgs
    assert mta_packages(pkgs) == set()
    # The check itself can fail: Postfix is an MTA.
    assert mta_packages(["postfix"]) == {"postfix"}


def _enabled_at_boot(unit):
    rc = ["/etc/rc%d.d" % n for n in (2, 3, 4, 5)]
    for d in rc:
        if os.path.isdir(d) and any(n.startswith("S") and n[3:] == unit
                                    for n in os.listdir(d)):
            return True
    wants = "/etc/systemd/system/multi-user.target.wants/%s.service" % unit
    return os.path.lexists(wants)


def test_test_services_not_enabled():
    """nsd is a test tool here, never a service of this host."""
    if shutil.which("dpkg") is None:
        pytest.skip("not Debian")
    r = subprocess.run(["dpkg", "-s", "nsd"], capture_output=True, text=True)
    if "install ok installed" not in r.stdout:
        pytest.skip("nsd not installed")
    assert not _enabled_at_boot("nsd")
