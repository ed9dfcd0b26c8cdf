#!/usr/bin/python3
"""Peak resident memory of a command's process tree, by process: RSS and PSS (proportional set size, from
/proc/PID/smaps_rollup: a page shared by n processes counts 1/n in each, so PSS sums to the tree's real footprint where
summed RSS counts shared pages once per process). Samples every 0.25 s until the command exits.

    /usr/bin/python3 scripts/real-shapes/rss_breakdown.py -- pnpm -s cli generate --model DIR --prompt Hi --max-new-tokens 1

Prints the peak of the summed PSS and of the summed RSS, and each role's figures at the PSS peak and its own peak.
With MARK=REGEX, the peak so far is also printed when a line of the command's output first matches (e.g.
MARK=^loaded: the load alone, before generation). With QUIET=1 the command's output is not echoed. With TIMELINE=1 in the environment, each sample's PSS by role is printed as it is taken. Roles: node (the CLI: pnpm, tsx and their node processes), chromium (the browser process), renderer (the page and
its workers), gpu (Chromium's GPU process: SwiftShader's buffers live here), utility/zygote/other. With PROCESSES=1,
also each Node-side process's own peak (pnpm, sh, tsx, node, esbuild...), to see what the CLI's side is made of.
"""
import os
import re
import subprocess
import sys
import threading
import time


def children():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        kids.setdefault(ppid, []).append(int(pid))
    return kids


def tree(root):
    kids, out, todo = children(), [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def role(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ")  # zygote children rewrite their title: one string with spaces
    except OSError:
        return None
    if b"chrom" not in cmd.split(b" ")[0]:
        return "node"
    for kind, name in ((b"gpu-process", "gpu"), (b"renderer", "renderer"), (b"utility", "utility"), (b"zygote", "zygote")):
        if b"--type=" + kind in cmd:
            return name
    return "chromium"


def label(pid):
    """The first words of a process's command line, its executable's base name first."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    return " ".join([os.path.basename(words[0])] + [os.path.basename(w) if "/" in w else w for w in words[1:4]])[:80]


def memory(pid):
    """(rss, pss) in KiB, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split()[:2] for line in f if line.split()[0] in ("Rss:", "Pss:"))
        return int(fields["Rss:"]), int(fields["Pss:"])
    except (OSError, KeyError, ValueError):
        return None


def main():
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    start = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    mark = re.compile(os.environ["MARK"]) if os.environ.get("MARK") else None
    marked = []

    def echo():  # the command's output, and the peak so far when a line matches MARK
        for line in proc.stdout:
            if not os.environ.get("QUIET"):
                sys.stdout.write(line)
            if mark and mark.search(line) and not marked:
                marked.append((time.time() - start, peak_pss, dict(at_peak)))

    peak_pss, peak_rss, at_peak, own_peak, at_time = 0, 0, {}, {}, 0.0
    by_process = {}  # pid -> (label, own peak RSS, own peak PSS), Node side only
    threading.Thread(target=echo, daemon=True).start()
    while proc.poll() is None:
        by_role = {}
        for pid in tree(proc.pid):
            r, m = role(pid), memory(pid)
            if r is None or m is None:
                continue
            rss, pss = by_role.get(r, (0, 0))
            by_role[r] = (rss + m[0], pss + m[1])
            if r == "node":
                old = by_process.get(pid) or (label(pid), 0, 0)
                by_process[pid] = (old[0], max(old[1], m[0]), max(old[2], m[1]))
        pss = sum(v[1] for v in by_role.values())
        peak_rss = max(peak_rss, sum(v[0] for v in by_role.values()))
        if pss > peak_pss:
            peak_pss, at_peak, at_time = pss, dict(by_role), time.time() - start
        if os.environ.get("TIMELINE"):  # each role's PSS, once a sample
            print(f"{time.time() - start:6.1f} s " + " ".join(f"{r} {v[1] // 1024}" for r, v in sorted(by_role.items())), file=sys.stderr)
        for r, v in by_role.items():
            old = own_peak.get(r, (0, 0))
            own_peak[r] = (max(old[0], v[0]), max(old[1], v[1]))
        time.sleep(0.25)
    mib = lambda k: k // 1024
    if marked:
        t, pss, roles = marked[0]
        print(f"at MARK ({t:.1f} s): peak PSS so far {mib(pss)} MiB: " + ", ".join(f"{r} {mib(v[1])}" for r, v in sorted(roles.items())), file=sys.stderr)
    print(f"exit {proc.returncode}, {time.time() - start:.1f} s", file=sys.stderr)
    print(f"peak PSS {mib(peak_pss)} MiB (at {at_time:.1f} s), peak summed RSS {mib(peak_rss)} MiB", file=sys.stderr)
    print(f"{'role':10} {'RSS@peak':>9} {'PSS@peak':>9} {'own peak RSS':>13} {'own peak PSS':>13}  (MiB)", file=sys.stderr)
    for r in sorted(own_peak, key=lambda r: -own_peak[r][1]):
        a = at_peak.get(r, (0, 0))
        print(f"{r:10} {mib(a[0]):9} {mib(a[1]):9} {mib(own_peak[r][0]):13} {mib(own_peak[r][1]):13}", file=sys.stderr)
    if os.environ.get("PROCESSES"):
        print("node-side processes, own peak RSS / PSS (MiB):", file=sys.stderr)
        for pid, (name, rss, pss) in sorted(by_process.items(), key=lambda kv: -kv[1][2]):
            print(f"  {pid:>7} {mib(rss):6} {mib(pss):6}  {name}", file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
