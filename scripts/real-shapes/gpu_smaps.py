#!/usr/bin/python3
"""What Chromium's GPU process holds, by kind of mapping, sampled from /proc/PID/smaps while a command runs.

    WEBTUNE_PROFILE_DIR=/tmp/p /usr/bin/python3 scripts/real-shapes/gpu_smaps.py /tmp/p [SECONDS] > timeline.txt &
    WEBTUNE_PROFILE_DIR=/tmp/p pnpm -s cli train ...

Finds the GPU process (--type=gpu-process with the profile folder in its command line), samples it every SECONDS
(default 1) until it exits, prints one line a sample (PSS in MiB by kind, and the number of mappings) and at the end
the sample with the highest PSS. Under SwiftShader (Debian's Chromium 156, whose anonymous mappings carry no names):
- "heaps": anonymous 8 MiB + 4 KiB mappings. Dawn's Vulkan backend suballocates every buffer under 4 MiB from 8 MiB
  heaps in power-of-two blocks (google/dawn 41408d2, src/dawn/native/vulkan/ResourceMemoryAllocatorVk.cpp), and
  SwiftShader zero-fills each VkDeviceMemory when it is made (google/swiftshader 595d911, src/System/Memory.cpp), so a
  heap is resident whole, used or not. 4 KiB: the allocator's page of bookkeeping around a large allocation.
- "large": other anonymous mappings of 4 MiB or more: buffers of 4 MiB or more (their own VkDeviceMemory), and large
  mallocs.
- "malloc": anonymous mappings under 4 MiB, i.e. the allocator's small-object pages: Dawn's, Chromium's, and
  SwiftShader's LLVM while it compiles a pipeline.
- "jit": SwiftShader's compiled pipelines (memfd:swiftshader_jit); "shm": shared memory with the page (Dawn's wire);
  "files": the mapped code and data of Chromium and its libraries.
"""
import os
import re
import sys
import time

HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")
KINDS = ("heaps", "large", "malloc", "jit", "shm", "files", "other")


def gpu_process(profile):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if "--type=gpu-process" in cmd and profile in cmd:
            return pid
    return None


def kind(size, perms, name):
    if "swiftshader_jit" in name:
        return "jit"
    if "shared-memory" in name:
        return "shm"
    if name:
        return "files" if name.startswith("/") else "other"  # [stack], [heap], [vdso] ...
    if perms != "rw-p":
        return "other"  # reservations (---p) hold nothing
    if size == (8 << 20) + 4096:
        return "heaps"
    return "large" if size >= 4 << 20 else "malloc"


def sample(pid):
    """{kind: [pss KiB, mappings]}, or None when the process is gone."""
    out = {k: [0, 0] for k in KINDS}
    current = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                m = HEADER.match(line)
                if m:
                    current = out[kind(int(m.group(2), 16) - int(m.group(1), 16), m.group(3), m.group(4))]
                    current[1] += 1
                elif line.startswith("Pss:") and current is not None:
                    current[0] += int(line.split()[1])
    except OSError:
        return None
    return out


def line(t, s):
    total = sum(v[0] for v in s.values())
    return f"{t:7.1f} s  pss {total >> 10:5}  " + "  ".join(f"{k} {s[k][0] >> 10} ({s[k][1]})" for k in KINDS)


def main():
    profile = sys.argv[1]
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    pid = None
    while pid is None:
        pid = gpu_process(profile)
        time.sleep(0.2)
    start, peak = time.time(), (0, "")
    print(f"GPU process {pid}: PSS in MiB by kind (mappings)", flush=True)
    while (s := sample(pid)) is not None:
        text = line(time.time() - start, s)
        print(text, flush=True)
        total = sum(v[0] for v in s.values())
        if total > peak[0]:
            peak = (total, text)
        time.sleep(interval)
    print(f"peak: {peak[1]}", flush=True)


if __name__ == "__main__":
    main()
