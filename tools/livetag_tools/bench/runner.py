"""livetag's benchmarks and the Python pipelines beside them, in one run, printing ratios.

Run through tools/benchmarks.sh, which installs what this needs and builds the release
binary, then runs `python -m livetag_tools.bench.runner` from tools/ in the `bench` venv.
Sections (all by default, or --only NAME,NAME):

  frontends  criterion `frontend/*` and `stft/*` vs librosa
             (`livetag_tools.bench.librosa_frontends`), frames/s
  models     criterion `inference/*` (ms per window), `tag/*` (x real time), `callback/*` (ns)
  tagging    `livetag tag` vs librosa + onnxruntime (`livetag_tools.bench.tag_pipeline`) on a
             5-minute 44.1 kHz stereo file: musicnn-mtt and a PANNs Cnn14 export; wall time,
             CPU time and peak RSS of each process, best of --repeat runs
  live       the virtual microphone: capture-to-result latency and the hop budget from
             `livetag listen --headless`, then the real window under Xvfb for
             --live-minutes, its RSS sampled every 5 s

Every side uses one thread for its numerics unless --threads says otherwise (the tagging
table is taken at each count given). --write replaces each section it ran in
docs/BENCHMARKS.md (between its markers), with the machine, date and command.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from livetag_tools.common.cache import repo_root

ROOT = repo_root()
# The Python sides run as modules of this package, so from the folder that holds it.
TOOLS = ROOT / "tools"
BIN = ROOT / "target" / "release" / "livetag"
CRITERION = ROOT / "target" / "criterion"
DOC = ROOT / "docs" / "BENCHMARKS.md"
BENCH_DIR = ROOT / "target" / "bench"
SECTIONS = ["frontends", "models", "tagging", "live"]
FRONTEND_CASES = ["librosa_mel_slaney_db", "librosa_mel_htk_log", "panns_logmel", "musicnn",
                  "dorfer_v1", "dorfer_v2"]
TAG_MODELS = [
    # (label, bundle, hop in seconds or None for the bundle's)
    ("musicnn-mtt", ROOT / "models" / "musicnn-mtt", None),
    ("PANNs Cnn14 (random weights)", ROOT / "target" / "exports" / "Cnn14", 10.0),
]


def run(cmd, **kw):
    kw.setdefault("cwd", ROOT)
    return subprocess.run(cmd, check=True, text=True, **kw)


def peak_rss_mib(pid):
    """The process's own high-water mark. (getrusage's ru_maxrss of a child also counts
    the parent's pages it was forked with, which here is this script's librosa.)"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    except (OSError, AttributeError):
        return None


def measured(cmd, env=None, cwd=ROOT):
    """Runs cmd; returns wall seconds, CPU seconds, peak RSS in MiB, stdout, stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env, text=True)
        peak = 0.0
        while True:
            # VmHWM only grows, so the last reading before exit is the peak unless the
            # process grew in its final 10 ms.
            rss = peak_rss_mib(proc.pid)
            peak = max(peak, rss or 0.0)
            waited, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if waited:
                break
            time.sleep(0.01)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.exit(f"{shlex.join(map(str, cmd))} failed ({proc.returncode}):\n{stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, peak, stdout, stderr


def machine():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    distro = platform.platform()
    if Path("/etc/os-release").exists():
        found = re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text())
        distro = found.group(1) if found else distro
    rustc = run(["rustc", "-V"], capture_output=True).stdout.strip()
    commit = run(["git", "describe", "--always", "--dirty"], capture_output=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} cores, {mem_kib / 2**20:.0f} GiB; {distro}, Linux "
            f"{platform.release()}; {rustc}; ONNX Runtime 1.31.1 (CPU provider); commit {commit}")


def criterion_ns(group, name):
    """Mean nanoseconds per iteration and the declared throughput of one criterion bench."""
    base = CRITERION / group / name / "new"
    mean = json.loads((base / "estimates.json").read_text())["mean"]["point_estimate"]
    bench = json.loads((base / "benchmark.json").read_text())
    throughput = (bench.get("throughput") or {}).get("Elements")
    return mean, throughput


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- sections

def section_frontends(args):
    run(["cargo", "bench", "--quiet", "--bench", "frontends", "--", "--noplot"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    librosa = {}
    out = run([sys.executable, "-m", "livetag_tools.bench.librosa_frontends", "--seconds", "60",
               "--repeat", "5", "--threads", "1", "--cases", ",".join(FRONTEND_CASES)],
              cwd=TOOLS, capture_output=True).stdout
    for line in out.splitlines():
        row = json.loads(line)
        # dorfer_v2: madmom itself when it is installed, else the NumPy re-implementation.
        if row["case"] not in librosa or row["impl"].startswith("madmom"):
            librosa[row["case"]] = (row["frames_per_sec"], row["impl"])
    rows, ratios = [], []
    for case in FRONTEND_CASES:
        ns, frames = criterion_ns("frontend", case)
        stft_ns, _ = criterion_ns("stft", case)
        ours, stft_only = frames / (ns * 1e-9), frames / (stft_ns * 1e-9)
        theirs, impl = librosa[case]
        ratios.append(ours / theirs)
        rows.append([case, f"{ours:,.0f}", f"{stft_only:,.0f}", f"{theirs:,.0f} ({impl})",
                     f"**{ours / theirs:.1f}x**", f"{stft_only / theirs:.1f}x"])
    body = table(["front-end", "livetag frames/s", "livetag STFT alone", "Python frames/s",
                  "ratio", "ceiling (STFT alone)"], rows)
    summary = (f"Smallest ratio {min(ratios):.1f}x, largest {max(ratios):.1f}x (goal: 20x). "
               "The ceiling column is what livetag would reach if everything after its STFT "
               "(filterbank, logarithm, float16) cost nothing.")
    command = ("cargo bench --bench frontends; python -m livetag_tools.bench.librosa_frontends "
               "--seconds 60 --repeat 5 --threads 1")
    return "Front-ends: livetag vs librosa, 60 s of audio, one thread", command, body, summary


def section_models(args):
    run(["cargo", "bench", "--quiet", "--bench", "models", "--", "--noplot"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    for bench_dir in sorted((CRITERION / "inference").iterdir()):
        if not (bench_dir / "new").is_dir():
            continue
        name = bench_dir.name
        ms = criterion_ns("inference", name)[0] / 1e6
        tag_ns, tag_secs = criterion_ns("tag", name)
        rows.append([name, f"{ms:.2f}", f"{tag_secs / (tag_ns * 1e-9):,.0f}x"])
    body = table(["bundle", "inference per window (ms)", "file tagging, 30 s clip"], rows)
    callback_ns, _ = criterion_ns("callback", "stereo_48k_10ms")
    summary = (f"Audio callback: {callback_ns:,.0f} ns per 10 ms stereo buffer at 48 kHz "
               f"({callback_ns / 1e5:.4f} % of the buffer's duration).")
    return ("Models: CPU provider, one thread", "cargo bench --bench models", body, summary)


def bench_audio():
    """5 minutes at 44.1 kHz stereo, from the committed reference clips (tiled)."""
    path = BENCH_DIR / "mix-5min-44k1-stereo.wav"
    if path.exists():
        return path
    import librosa
    import numpy as np
    import soundfile as sf
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    clips = [librosa.load(f, sr=44100, mono=True)[0]
             for f in sorted((ROOT / "tests" / "fixtures" / "musicnn").glob("*.wav"))]
    mono = np.concatenate(clips)
    n = 300 * 44100
    mono = np.tile(mono, -(-n // len(mono)))[:n]
    noise = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    sf.write(path, np.stack([mono, 0.9 * mono + 0.01 * noise], axis=1), 44100, subtype="PCM_16")
    return path


def section_tagging(args):
    audio = bench_audio()
    audio_secs = 300.0
    rows, notes = [], []
    env = dict(os.environ)
    for threads in args.threads:
        for label, bundle, hop in TAG_MODELS:
            if not (bundle / "model.onnx").exists():
                sys.exit(f"{bundle} is missing (tools/benchmarks.sh exports it)")
            hop_args = ["--hop-secs", str(hop)] if hop else []
            ours_cmd = [str(BIN), "tag", str(audio), "--model", str(bundle), "--provider", "cpu",
                        "--threads", str(threads), "--batch", "1", *hop_args]
            py_cmd = [sys.executable, "-m", "livetag_tools.bench.tag_pipeline", str(audio),
                      "--model", str(bundle), "--threads", str(threads), "--batch", "1",
                      *hop_args]
            best_ours = best_py = None
            for _ in range(args.repeat):
                ours = measured(ours_cmd, env)
                py = measured(py_cmd, env, cwd=TOOLS)
                if best_ours is None or ours[0] < best_ours[0]:
                    best_ours = ours
                if best_py is None or py[0] < best_py[0]:
                    best_py = py
            wall, cpu, rss, _, _ = best_ours
            py_wall, py_cpu, py_rss, py_out, _ = best_py
            phases = json.loads(py_out.strip().splitlines()[-1])
            # Conservative: Python's pipeline time without interpreter start and imports,
            # against livetag's whole process (start, ONNX Runtime load, session, output).
            py_secs = phases["total_secs"]
            # Loading the model and running it is the same library on both sides.
            bound = py_secs / (phases["session_secs"] + phases["inference_secs"])
            rows.append([
                label, threads,
                f"{wall:.2f} s ({audio_secs / wall:.0f}x RT)",
                f"{py_secs:.2f} s ({audio_secs / py_secs:.0f}x RT)",
                f"**{py_secs / wall:.2f}x**",
                f"{bound:.2f}x",
                f"{rss:,.0f} MiB", f"{py_rss:,.0f} MiB", f"{py_rss / rss:.2f}x",
                f"{cpu:.2f} s / {py_cpu:.2f} s",
            ])
            notes.append(f"{label}, {threads} thread(s): Python spent "
                         f"{phases['session_secs']:.2f} s creating the session, "
                         f"{phases['load_secs']:.2f} s decoding and resampling (librosa.load), "
                         f"{phases['frontend_secs']:.2f} s "
                         f"in the front-end, {phases['inference_secs']:.2f} s in onnxruntime "
                         f"({phases['windows']} windows); its whole process took {py_wall:.2f} s.")
    body = table(["model", "threads", "livetag (whole process)", "Python pipeline",
                  "speed-up", "bound (same ONNX Runtime)", "livetag peak RSS", "Python peak RSS",
                  "memory ratio", "CPU time livetag / Python"], rows)
    summary = ("Both sides decode the same 5-minute 44.1 kHz stereo WAV, resample to the "
               "model's rate, compute its front-end and run the same model.onnx in ONNX "
               "Runtime 1.31.1 (CPU provider, batch 1, the same intra-op thread count). The "
               "Python time leaves out interpreter start and imports; livetag's is its whole "
               "process. The bound column is the speed-up livetag would reach if everything "
               "but ONNX Runtime (loading the session, running the model) cost it nothing: "
               "both sides call the same library for that.\n\n"
               + "\n".join(f"- {n}" for n in notes))
    command = ("livetag tag FILE --model M --provider cpu --threads T --batch 1 [--hop-secs 10]; "
               "python -m livetag_tools.bench.tag_pipeline FILE --model M --threads T --batch 1 "
               f"[--hop-secs 10]; best of {args.repeat}")
    return "File tagging: livetag vs librosa + onnxruntime", command, body, summary


class VirtualMic:
    """A PulseAudio null sink whose monitor is the default source (see stack.md)."""

    def __enter__(self):
        self.runtime = tempfile.mkdtemp()
        os.chmod(self.runtime, 0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime, XDG_DATA_HOME=self.runtime,
                        XDG_CONFIG_HOME=self.runtime)
        pa = lambda *a: run(list(a), env=self.env, stdout=subprocess.DEVNULL)  # noqa: E731
        pa("pulseaudio", "--daemonize=yes", "--exit-idle-time=-1")
        pa("pactl", "load-module", "module-null-sink", "sink_name=virtmic_sink", "rate=48000",
           "channels=1")
        pa("pactl", "load-module", "module-remap-source", "master=virtmic_sink.monitor",
           "source_name=virtmic")
        pa("pactl", "set-default-source", "virtmic")
        # What the microphone hears: the whistle, over and over.
        self.player = subprocess.Popen(
            ["bash", "-c", "while true; do paplay --latency-msec=20 --device=virtmic_sink "
                           "assets/whistle.wav; done"],
            cwd=ROOT, env=self.env, start_new_session=True)
        return self

    def __exit__(self, *exc):
        os.killpg(self.player.pid, signal.SIGTERM)
        subprocess.run(["pulseaudio", "--kill"], env=self.env, check=False)


def section_live(args):
    minutes = args.live_minutes
    with VirtualMic() as mic:
        _, _, _, _, err = measured([str(BIN), "listen", "--headless", "--device", "virtmic",
                                    "--duration", "60s"], mic.env)
        summary_line = [line for line in err.splitlines() if "latency p50" in line][-1]
        budget_line = [line for line in err.splitlines() if "of the hop" in line][-1]
        latency = re.search(r"latency p50 ([\d.]+) ms p99 ([\d.]+) ms", summary_line)
        callback = re.search(r"longest audio callback ([\d.]+) us", summary_line).group(1)
        dropped = re.search(r"(\d+) dropped", summary_line).group(1)
        budget = re.search(r"per (\d+) ms hop, front-end ([\d.]+) ms \+ inference ([\d.]+) ms "
                           r"= ([\d.]+) %", budget_line).groups()

        display = ":97"
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten",
                                 "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        try:
            window_env = dict(mic.env, DISPLAY=display)
            with tempfile.TemporaryFile("w+") as err_file:
                app = subprocess.Popen([str(BIN), "listen", "--device", "virtmic", "--duration",
                                        f"{minutes * 60}s"], cwd=ROOT, env=window_env,
                                       stdout=subprocess.DEVNULL, stderr=err_file, text=True)
                samples = []  # (seconds, RSS MiB)
                started = time.monotonic()
                while app.poll() is None:
                    status = Path(f"/proc/{app.pid}/status")
                    try:
                        rss_kib = int(re.search(r"VmRSS:\s+(\d+)", status.read_text()).group(1))
                        samples.append((time.monotonic() - started, rss_kib / 1024))
                    except (OSError, AttributeError):
                        pass
                    time.sleep(5)
                err_file.seek(0)
                window_err = err_file.read()
        finally:
            xvfb.terminate()
    if app.returncode != 0:
        sys.exit(f"the live window failed ({app.returncode}):\n{window_err[-2000:]}")
    after_1min = next(rss for t, rss in samples if t >= 60)
    at_end = samples[-1][1]
    growth = 100 * (at_end - after_1min) / after_1min
    ui = re.search(r"ui time p50 ([\d.]+) ms p99 ([\d.]+) ms", window_err)
    window_budget = re.search(r"= ([\d.]+) % of the hop", window_err)
    rows = [
        ["capture-to-result latency, headless (p50 / p99)",
         f"{latency.group(1)} / {latency.group(2)} ms"],
        [f"per {budget[0]} ms hop: front-end + inference",
         f"{budget[1]} + {budget[2]} ms = **{budget[3]} %** of the hop"],
        ["windows dropped in 60 s", dropped],
        ["longest audio callback (wall time: OS preemption included)", f"{callback} us"],
        [f"live window RSS after 1 min / after {minutes} min",
         f"{after_1min:.1f} / {at_end:.1f} MiB"],
        [f"RSS growth, minute 1 to minute {minutes}", f"**{growth:+.2f} %** (goal: under 2 %)"],
        ["largest RSS seen", f"{max(r for _, r in samples):.1f} MiB"],
        ["UI time per frame (p50 / p99)", f"{ui.group(1)} / {ui.group(2)} ms" if ui else "-"],
        ["window's front-end + inference share of the hop",
         f"{window_budget.group(1)} %" if window_budget else "-"],
    ]
    body = table(["live, musicnn-mtt, virtual microphone", "value"], rows)
    command = ("livetag listen --headless --device virtmic --duration 60s; "
               f"livetag listen --device virtmic --duration {minutes * 60}s (Xvfb), "
               "VmRSS every 5 s")
    summary = ("The microphone is a PulseAudio null sink fed with assets/whistle.wav in a loop "
               "(paplay, 20 ms latency); latency runs from the capture time of a window's last "
               "frame to its scores reaching the consumer.")
    return "Live budget", command, body, summary


# ---------------------------------------------------------------------------- output

def render(name, title, command, body, summary, machine_line, date):
    return (f"<!-- section:{name} -->\n## {title}\n\n"
            f"Machine: {machine_line}  \nDate: {date}  \nCommand: `{command}`\n\n"
            f"{body}\n\n{summary}\n<!-- /section:{name} -->")


def write_doc(rendered):
    text = DOC.read_text() if DOC.exists() else (
        "# Benchmarks\n\nGenerated by `tools/benchmarks.sh --write`; the sections below the "
        "tables are written by hand.\n\n"
        + "\n\n".join(f"<!-- section:{n} -->\n<!-- /section:{n} -->" for n in SECTIONS) + "\n")
    for name, block in rendered.items():
        pattern = re.compile(rf"<!-- section:{name} -->.*?<!-- /section:{name} -->", re.S)
        if not pattern.search(text):
            sys.exit(f"{DOC} has no markers for section {name}")
        text = pattern.sub(lambda _: block, text)
    DOC.write_text(text)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    ap.add_argument("--threads", default="1,2", help="thread counts of the tagging table")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per tagging measurement (best kept)")
    ap.add_argument("--live-minutes", type=int, default=10)
    ap.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    return ap


def parse_args(argv=None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",")]
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        sys.exit(f"unknown section(s) {', '.join(sorted(unknown))}; "
                 f"choose from {', '.join(SECTIONS)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    wanted = args.only.split(",")
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run through tools/benchmarks.sh")
    machine_line = machine()
    rendered = {}
    for name in SECTIONS:
        if name not in wanted:
            continue
        print(f"== {name} ...", file=sys.stderr, flush=True)
        title, command, body, summary = globals()[f"section_{name}"](args)
        date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rendered[name] = render(name, title, command, body, summary, machine_line, date)
        print(f"\n## {title}\n\n{body}\n\n{summary}\n", flush=True)
    if args.write:
        write_doc(rendered)
        print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
