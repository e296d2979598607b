"""The man pages mention every flag the programs show in --help.

Runs `baton-coordinator --help`, `baton --help` and `baton CMD --help` for
every command `baton --help` lists, collects their flags (--long and -s), and
checks that man/baton-coordinator.8 and man/baton.1 mention each one. Also
checks that both pages render without warnings (man -l, when man-db is
installed), that `cmake --install` puts them in man1/man8, and that the flags
the systemd unit passes are flags the coordinator knows.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("BATON_BUILD_DIR", os.path.join(SRC, "build"))
COORD = os.path.join(BUILD, "coordinator", "baton-coordinator")
BATON = os.path.join(BUILD, "agent", "baton")


def help_of(*argv):
    r = subprocess.run(list(argv) + ["--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "%s --help exited %d: %s" % (" ".join(argv), r.returncode, r.stderr)
    return r.stdout


def flags(text):
    """Flags in an option listing: --long-name and -x at the start of a word."""
    longs = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    shorts = set(re.findall(r"(?:^|\s)(-[a-zA-Z])(?=[,\s])", text, re.M))
    return longs | shorts


def man_text(path):
    with open(path, encoding="utf-8") as f:
        roff = f.read()
    return roff.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")


def check_page(page, helps):
    text = man_text(page)
    missing = []
    for what, h in helps:
        for fl in sorted(flags(h)):
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(fl), text):
                missing.append("%s (from %s --help)" % (fl, what))
    assert not missing, "%s does not mention: %s" % (os.path.relpath(page, SRC), ", ".join(missing))
    print("%s mentions all %d flags of %s" % (os.path.relpath(page, SRC),
                                             len(set().union(*(flags(h) for _, h in helps))),
                                             ", ".join(w for w, _ in helps)))


def check_renders(page):
    if shutil.which("man") is None:
        print("man not installed: not rendering %s" % page)
        return
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
    assert r.returncode == 0 and not r.stderr.strip(), "%s renders with warnings:\n%s" % (page, r.stderr)


def main():
    coord_help = help_of(COORD)
    baton_help = help_of(BATON)
    cmds = re.findall(r"^  ([a-z]+)\s{2,}", baton_help.split("commands:", 1)[1], re.M)
    assert {"run", "watch", "status", "reset"} <= set(cmds), cmds
    check_page(os.path.join(SRC, "man", "baton-coordinator.8"), [("baton-coordinator", coord_help)])
    check_page(os.path.join(SRC, "man", "baton.1"),
               [("baton", baton_help)] + [("baton " + c, help_of(BATON, c)) for c in cmds])
    man1 = man_text(os.path.join(SRC, "man", "baton.1"))
    for c in cmds:
        assert re.search(r"^\.B %s$" % c, man1, re.M), "baton.1 has no section for the command %s" % c
    for page in ("baton.1", "baton-coordinator.8"):
        check_renders(os.path.join(SRC, "man", page))

    # The systemd unit passes only flags the coordinator knows.
    with open(os.path.join(SRC, "deploy", "baton-coordinator.service"), encoding="utf-8") as f:
        unit = f.read()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    unknown = flags(exec_start) - flags(coord_help)
    assert not unknown, "the systemd unit passes unknown flags: %s" % unknown

    # cmake --install puts the pages where man looks for them.
    dest = tempfile.mkdtemp(prefix="baton-install-")
    try:
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", dest], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        found = sorted(os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs
                       if f in ("baton.1", "baton-coordinator.8"))
        assert found == ["share/man/man1/baton.1", "share/man/man8/baton-coordinator.8"], found
        print("cmake --install: %s" % ", ".join(found))
    finally:
        shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
