"""A derivtrain run that reports its own peak resident memory, for the memory tests and
scripts/scale_ranks.py.

`python -c SAMPLED_RUN <overrides>` (or the program written to a file and started by torchrun)
samples /proc/self/status every 2 ms while derivtrain runs and prints one line per process,
`PEAK <rank> <anon> <file>`: the peaks of anonymous memory (RssAnon: copies of rows) and of file
pages mapped in (RssFile: rows read and not released), in bytes. The sampler starts before
derivtrain is imported, so compare against a run on tiny data to leave the imports out. Linux only.
"""

SAMPLED_RUN = """
import os, sys, threading, time
peak = {"RssAnon": 0, "RssFile": 0}
def sample():
    while True:
        for line in open("/proc/self/status"):
            key = line.split(":")[0]
            if key in peak:
                peak[key] = max(peak[key], int(line.split()[1]) * 1024)
        time.sleep(0.002)
threading.Thread(target=sample, daemon=True).start()
import derivtrain.cli
sys.argv = ["derivtrain"] + sys.argv[1:]
try:
    derivtrain.cli.main()
finally:
    time.sleep(0.01)
    print("PEAK", os.environ.get("RANK", "0"), peak["RssAnon"], peak["RssFile"], flush=True)
"""


def peaks(stdout: str) -> dict:
    """{rank: (anon, file)} from the PEAK lines of the runs' output."""
    found = [line.split() for line in stdout.splitlines() if line.startswith("PEAK ")]
    return {int(rank): (int(anon), int(mapped)) for _, rank, anon, mapped in found}
