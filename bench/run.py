#!/usr/bin/env python3
"""Time slipway against `helm template` and `kubectl kustomize` on the same
synthetic platform (bench/generate.py), and report medians, ratios, peak RSS
and MB/s of YAML as a markdown table.

Usage:
  bench/run.py [--sizes 10,100,1000,10000] [--runs 5] [--kustomize-limit 150]
               [--slipway target/dist/slipway] [--helm helm] [--work /tmp/slipway-bench]
               [--all-limit 1000] [--trees DIR]

"One environment" is prod in its primary region for slipway, the prod values
file for Helm, and the prod overlay for Kustomize: the same objects (one
cluster). `render --all -o` writes every cluster of every environment.
"""
import argparse
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def measure(command, runs, stdout_path=None, timeout=None):
    """Median wall seconds, peak RSS in MiB, and the output size in bytes."""
    times, peaks, size = [], [], 0
    for _ in range(runs):
        os.sync()
        out = open(stdout_path or os.devnull, "wb")
        start = time.perf_counter()
        # A process group of its own: on a timeout the tool itself is killed,
        # not only /usr/bin/time (a stray kustomize would take a core from
        # every measurement after it).
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M"] + command, stdout=out, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
        finally:
            out.close()
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
        times.append(elapsed)
        peaks.append(int(stderr.decode().strip().splitlines()[-1]) / 1024)
        if stdout_path:
            size = os.path.getsize(stdout_path)
    return {"seconds": statistics.median(times), "rss_mib": max(peaks), "bytes": size}


def measure_all(args, folder, trees_folder):
    """`render --all -o`: into a new folder (a first render), then again over
    the tree it wrote (a re-render, nothing changed). Each first render gets
    a folder of its own and the trees are deleted only afterwards: on ext4,
    creating 100,000 files right after deleting 100,000 is slowed down many
    times by the inode allocator skipping recently deleted inodes
    (`recently_deleted` in perf), whatever the tool."""
    runs = max(1, args.runs // 2)
    os.makedirs(trees_folder, exist_ok=True)
    trees = iter(f"{trees_folder}/tree-{i}" for i in range(runs))
    render = [args.slipway, "-C", f"{folder}/slipway", "render", "--all"]
    for tree in glob.glob(f"{trees_folder}/tree-*"):
        shutil.rmtree(tree)
    first = measure_each(lambda: render + ["-o", next(trees)], runs)
    again = measure(render + ["-o", f"{trees_folder}/tree-0"], runs)
    checks = measure_check(args, folder, f"{trees_folder}/tree-0", runs)
    for tree in glob.glob(f"{trees_folder}/tree-*"):
        shutil.rmtree(tree)
    return {"slipway --all -o (new folder)": first, "slipway --all -o (re-render)": again, **checks}


def measure_check(args, folder, tree, runs):
    """`check` against the up-to-date tree of every cluster: outside git
    (it renders and compares every file), then with the tree in a git
    repository's index (proven from the manifest and the index)."""
    check = [args.slipway, "-C", f"{folder}/slipway", "check", "--against", tree]
    rendered = measure(check, runs)
    git = ["git", "-C", tree]
    subprocess.run(git + ["init", "--quiet"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    proven = measure(check, runs)
    return {"slipway check (renders)": rendered, "slipway check (proven, git)": proven}


def measure_each(command, runs):
    """Like measure, with a new command line for every run."""
    results = [measure(command(), 1) for _ in range(runs)]
    return {
        "seconds": statistics.median(r["seconds"] for r in results),
        "rss_mib": max(r["rss_mib"] for r in results),
        "bytes": 0,
    }


def generate(n, work, slipway, with_kustomize):
    """The platform of size n; Kustomize bases only when they will be timed."""
    folder = f"{work}/{n}"
    done = f"{folder}/kustomize" if with_kustomize else f"{folder}/helm"
    if os.path.exists(done):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, f"{HERE}/generate.py", str(n), folder], check=True, stdout=subprocess.DEVNULL)
    if with_kustomize:
        render = [slipway, "-C", f"{folder}/slipway", "render", "--env", "prod", "--region", "us-east-1", "-o", f"{folder}/rendered"]
        subprocess.run(render, check=True, stderr=subprocess.DEVNULL)
        subprocess.run([sys.executable, f"{HERE}/generate.py", str(n), folder, f"{folder}/rendered"], check=True, stdout=subprocess.DEVNULL)
    return folder


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kustomize-limit", type=float, default=150)
    parser.add_argument("--slipway", default=f"{ROOT}/target/dist/slipway")
    parser.add_argument("--helm", default="helm")
    parser.add_argument("--work", default="/tmp/slipway-bench")
    parser.add_argument("--all-limit", type=int, default=1000, help="largest N for render --all -o")
    parser.add_argument("--trees", help="where render --all -o writes (default: under --work), e.g. /dev/shm")
    args = parser.parse_args()
    results = {}
    kustomize_gave_up = False
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        folder = generate(n, args.work, args.slipway, not kustomize_gave_up)
        out = f"{folder}/out.yaml"
        row = {}
        row["slipway"] = measure([args.slipway, "-C", f"{folder}/slipway", "render", "--env", "prod", "--region", "us-east-1"], args.runs, out)
        row["helm"] = measure([args.helm, "template", "bench", f"{folder}/helm/chart", "-f", f"{folder}/helm/values-prod.yaml"], args.runs, out)
        if not kustomize_gave_up:
            runs = args.runs if n <= 100 else 1
            row["kustomize"] = measure(["kubectl", "kustomize", f"{folder}/kustomize/overlays/prod"], runs, out, timeout=args.kustomize_limit)
            kustomize_gave_up = row["kustomize"] is None
        results[n] = row
        print(f"N={n}: " + ", ".join(f"{k} {v['seconds']:.3f}s" if v else f"{k} over {args.kustomize_limit:.0f}s" for k, v in row.items()), file=sys.stderr)
    # Writing trees of files last: the kernel's writeback after them would
    # slow down whatever ran next.
    for n in [n for n in sizes if n <= args.all_limit]:
        results[n].update(measure_all(args, f"{args.work}/{n}", f"{args.trees or args.work}/{n}"))
        print(f"N={n}: --all -o done", file=sys.stderr)
    check = measure([args.slipway, "-C", ROOT, "check", "--against", "golden"], 10)
    report(results, check, args)
    with open(f"{args.work}/results.json", "w") as f:
        json.dump({"results": results, "check": check}, f, indent=1)


def report(results, check, args):
    print(f"| N | tool | median | peak RSS | YAML | MB/s | slipway is |")
    print("|---|---|---|---|---|---|---|")
    for n, row in results.items():
        base = row["slipway"]["seconds"]
        for tool, r in row.items():
            if r is None:
                print(f"| {n} | {tool} | over {args.kustomize_limit:.0f} s (stopped) | | | | |")
                continue
            mb = r["bytes"] / 1e6
            rate = f"{mb / r['seconds']:.0f}" if r["bytes"] else ""
            ratio = "" if tool.startswith("slipway") else f"{r['seconds'] / base:.0f}x faster"
            size = f"{mb:.1f} MB" if r["bytes"] else ""
            print(f"| {n} | {tool} | {r['seconds'] * 1000:.0f} ms | {r['rss_mib']:.0f} MiB | {size} | {rate} | {ratio} |")
    sizes = sorted(results)
    if 1000 in results and 10000 in results:
        ratio = results[10000]["slipway"]["seconds"] / results[1000]["slipway"]["seconds"]
        print(f"\nlinearity: N=10000 takes {ratio:.1f}x the time of N=1000 (target at most 11x); "
              f"peak RSS at N=10000 {results[10000]['slipway']['rss_mib']:.0f} MiB (target under 700)")
    if 1000 in results and results[1000].get("helm"):
        row = results[1000]
        print(f"\nN=1000: {row['helm']['seconds'] / row['slipway']['seconds']:.1f}x faster than Helm (target at least 25x); "
              f"peak RSS {row['slipway']['rss_mib']:.0f} MiB against Helm's {row['helm']['rss_mib']:.0f} MiB (target below it)")
    if 1000 in results and "slipway --all -o (new folder)" in results[1000]:
        row = results[1000]
        print(f"\n`render --all -o` at N=1000 (every cluster, one file per object): "
              f"{row['slipway --all -o (new folder)']['seconds']:.2f} s into a new folder, "
              f"{row['slipway --all -o (re-render)']['seconds']:.2f} s re-rendered; "
              f"one `helm template` of one environment: {row['helm']['seconds']:.2f} s")
        print(f"\n`check` of that tree: {row['slipway check (proven, git)']['seconds'] * 1000:.0f} ms "
              f"proven from git's index (target under 300 ms), "
              f"{row['slipway check (renders)']['seconds']:.2f} s rendering and comparing outside git")
    print(f"\n`slipway check` on the example platform: {check['seconds'] * 1000:.0f} ms (target under 50 ms)")


if __name__ == "__main__":
    main()
