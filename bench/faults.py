"""Fault injection, the long cases: kill -9 at random moments of every command, concurrent
writers, a full disk, tampered journals and outputs, hostile inputs. Prints the table of
docs/reliability.md (case, what happened, exit code, message, what was left after the rerun).

    python bench/faults.py                          # everything, 20 kills per command
    python bench/faults.py --kills 5 --only kill    # a quicker look at one group
    python bench/faults.py --only kill --commands export qc   # kill only these commands
    python bench/faults.py --json faults.json       # also every trial's details

Each kill trial copies a clean starting state, starts the command, kills only its main process
with SIGKILL after a random delay (uniform over the command's clean duration, seeded), then
looks at what is still running of it (children that outlive their parent: orphans), ends them,
runs the same command again and compares the result with a clean run: the same text layers
and files, `digitize verify` intact, nothing left behind (staging, temporary files, partial
packages, temporary folders). Needs root for the tmpfs of the disk-full case (skipped otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openpyxl
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
SAMPLE_DOCS = ("J022-SB·2019-D30-BGS-0002", "J022-SB·2019-D30-ZJ-0001")
HEADER = ["档号", "题名", "日期", "责任者", "保管期限"]
COMPLETED = (0, 4)  # a run that ran to its end: 0, or 4 when the batch has ERROR findings (a 150-dpi page)


@dataclass
class Case:
    group: str
    case: str
    outcome: str  # what happened
    exit: str  # exit code(s)
    message: str
    left_behind: str
    ok: bool
    trials: list[dict] = field(default_factory=list)

    def row(self) -> str:
        cells = [self.case, self.outcome, self.exit, self.message.replace("|", "\\|")[:160], self.left_behind]
        return "| " + " | ".join(cells) + (" | yes |" if self.ok else " | **no** |")


def cli(*args: object, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env or ENV,
        cwd=ROOT,
        timeout=timeout,
    )


def said(result: subprocess.CompletedProcess) -> str:
    """The line that says what happened: the error, the first failure or problem, else the last line."""
    if "Traceback" in result.stderr:
        return "TRACEBACK: " + result.stderr.strip().splitlines()[-1]
    lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
    for line in lines:
        if re.match(r"(error:|Error:|FAILED|REFUSED|changed:|extra:|missing:|chain:|journal: (?!\d+ events))", line):
            return line
    return lines[-1] if lines else ""


def leftovers(out: Path, dest_parent: Path | None = None) -> list[str]:
    found = []
    for path in out.rglob("*"):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(".work") or path.name.endswith(".tmp") or ".old-" in path.name:
            found.append(rel)
    if dest_parent is not None:
        found += [p.name for p in dest_parent.iterdir() if ".partial-" in p.name]
    tmp = Path(tempfile.gettempdir())
    for folder in tmp.glob("digitize-*"):
        from digitize.procid import ProcessId

        owner = ProcessId.from_tag(folder.name[len("digitize-") :])
        if owner is not None and owner.alive() is False:
            found.append(str(folder))
    return found


def texts(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in sorted(out.glob("documents/*/ocr/*.txt"))
    }


def verify_ok(target: Path) -> bool:
    return cli("verify", target, "--no-record").returncode == 0


# ------------------------------------------------------------------------------------ kill -9
def run_killed(args: list[object], delay: float) -> tuple[int | None, int]:
    """Start `digitize ARGS`, SIGKILL its main process after `delay`; return (its exit code or None
    if it was killed, how many of its processes were still alive 5 s after the kill)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", *map(str, args)],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=delay)
        return proc.returncode, 0
    except subprocess.TimeoutExpired:
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(5)
    orphans = _session_members(proc.pid)
    if orphans:
        os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(1)
    return None, len(orphans)


def _session_members(sid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: session id
            members.append(int(stat.parent.name))
    return members


def kill_trials(
    name: str,
    trials: int,
    rng: random.Random,
    start: Callable[[Path], tuple[list[object], Path]],
    check: Callable[[Path, Path], list[str]],
    work: Path,
) -> Case:
    """`start(trial_dir)` lays out the starting state and returns (command args, OUT); `check(out, trial_dir)`
    returns what differs from the clean run (empty: same)."""
    clean_dir = work / f"{name}-clean"
    args, _ = start(clean_dir)
    began = time.perf_counter()
    first = cli(*args)
    duration = time.perf_counter() - began
    records = []
    for number in range(trials):
        trial = work / f"{name}-{number}"
        args, out = start(trial)
        delay = rng.uniform(0.2, duration)
        code, orphans = run_killed(args, delay)
        rerun = cli(*args)
        rerun_code = rerun.returncode
        if name == "handoff" and rerun_code == 2 and "already exists" in rerun.stderr:
            rerun_code = 0  # killed after the package was renamed into place: it is complete
        differences = check(out, trial) if rerun_code == first.returncode else [f"rerun exit {rerun_code}"]
        records.append(
            {
                "delay": round(delay, 2),
                "killed": code is None,
                "orphans": orphans,
                "rerun_exit": rerun_code,
                "differences": differences,
                "message": said(rerun),
            }
        )
        shutil.rmtree(trial, ignore_errors=True)
    killed = sum(r["killed"] for r in records)
    bad = [r for r in records if r["differences"]]
    orphaned = [r for r in records if r["orphans"]]
    return Case(
        "kill -9",
        f"`{name}`: kill -9 of its main process at a random moment, then the same command again "
        f"({trials} trials, {killed} killed mid-run)",
        f"{trials - len(bad)}/{trials} reruns equal to a clean run; orphans after the kill in {len(orphaned)} trials "
        f"(max {max((r['orphans'] for r in records), default=0)} processes)",
        f"rerun {sorted({r['rerun_exit'] for r in records})} (clean {first.returncode})",
        "; ".join(sorted({d for r in bad for d in r["differences"]}))[:160] or "-",
        "nothing" if not bad else "see differences",
        not bad and not orphaned,
        records,
    )


# ------------------------------------------------------------------------------------ fixtures
def small_batch(target: Path) -> Path:
    samples = ROOT / "samples" / "batch"
    target.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_DOCS:
        if not (target / name).exists():
            shutil.copytree(samples / name, target / name)
    lines = (samples / "catalog.csv").read_text(encoding="utf-8-sig").splitlines()
    rows = [lines[0], *(row for row in lines if row.split(",")[0] in SAMPLE_DOCS)]
    (target / "catalog.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return target


def blank(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (400, 560), 245).save(path, dpi=(300, 300))
    return path


def noisy(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (900, 700), dtype=np.uint8)
    Image.fromarray(pixels).save(path, dpi=(300, 300), quality=95)
    return path


# ------------------------------------------------------------------------------------ groups
COMMANDS = ("process", "export", "qc", "handoff", "verify")


def kills(work: Path, trials: int, seed: int, commands: tuple[str, ...] = COMMANDS) -> list[Case]:
    rng = random.Random(seed)
    batch = small_batch(work / "batch")
    processed = work / "processed"
    if not processed.exists():
        cli("process", batch, "--catalog", batch / "catalog.csv", "--out", processed, "--jobs", "2", "--dpi", "300")
    exported = work / "exported"
    if not exported.exists():
        shutil.copytree(processed, exported)
        cli("export", exported)
        cli("qc", exported, "--no-masters")
    clean_texts = texts(processed)

    def fresh_process(trial: Path) -> tuple[list[object], Path]:
        out = trial / "out"
        args = ["process", batch, "--catalog", batch / "catalog.csv", "--out", out, "--jobs", "2", "--dpi", "300"]
        return [*args, "--no-progress"], out

    def check_process(out: Path, trial: Path) -> list[str]:
        found = []
        if texts(out) != clean_texts:
            found.append("text layers differ")
        if not verify_ok(out):
            found.append("verify not intact")
        found += leftovers(out)
        return found

    def copy_from(source: Path, command: list[object]) -> Callable[[Path], tuple[list[object], Path]]:
        def start(trial: Path) -> tuple[list[object], Path]:
            out = trial / "out"
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(source, out)
            return [c if c != "OUT" else out for c in command], out

        return start

    def check_out(out: Path, trial: Path) -> list[str]:
        return (["verify not intact"] if not verify_ok(out) else []) + leftovers(out)

    def start_handoff(trial: Path) -> tuple[list[object], Path]:
        out = trial / "out"
        if trial.exists():
            shutil.rmtree(trial)
        shutil.copytree(exported, out)
        return ["handoff", out, "--to", trial / "bag", "--force", "--reason", "fault trial", "--no-progress"], out

    def check_handoff(out: Path, trial: Path) -> list[str]:
        found = [] if verify_ok(trial / "bag") else ["package not intact"]
        return found + leftovers(out, trial)

    starts = {
        "process": (fresh_process, check_process),
        "export": (copy_from(processed, ["export", "OUT"]), check_out),
        "qc": (copy_from(processed, ["qc", "OUT", "--no-masters"]), check_out),
        "handoff": (start_handoff, check_handoff),
        "verify": (copy_from(exported, ["verify", "OUT"]), check_out),
    }
    return [kill_trials(name, trials, rng, *starts[name], work) for name in commands]


def concurrent(work: Path) -> list[Case]:
    batch = small_batch(work / "batch")
    out = work / "concurrent"
    shutil.rmtree(out, ignore_errors=True)
    args = [sys.executable, "-m", "cli", "process", str(batch), "--out", str(out), "--jobs", "1", "--no-progress"]
    first = subprocess.Popen(args, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    second = cli("process", batch, "--out", out, "--jobs", "1")
    export = cli("export", out)
    first.communicate()
    intact = verify_ok(out)
    status = json.loads(cli("status", out, "--json").stdout)
    ok = second.returncode == 7 and export.returncode == 7 and first.returncode in COMPLETED and intact
    return [
        Case(
            "concurrency",
            "two `process` on one OUT, and an `export` while `process` runs",
            f"the first completes ({status['totals']['done']} documents done); the others are refused at once; "
            f"verify {'intact' if intact else 'NOT intact'}",
            f"{first.returncode} / {second.returncode} / {export.returncode}",
            said(second),
            "nothing",
            ok,
        )
    ]


def disk_full(work: Path) -> list[Case]:
    if os.geteuid() != 0:
        return [Case("resources", "disk full (tmpfs)", "skipped: needs root", "-", "-", "-", True)]
    disk = work / "disk"
    disk.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], check=True)
    cases = []
    try:
        for leave_kb in (16, 96, 400, 1200):  # the disk fills at different steps: lock, staging, commit, journal
            batch = work / f"full-batch-{leave_kb}"
            shutil.rmtree(batch, ignore_errors=True)
            blank(batch / "A" / "0001.png")
            out = disk / f"out-{leave_kb}"
            cli("process", batch, "--out", out, "--jobs", "1")
            for n in range(3):
                noisy(batch / f"D{n}" / "0001.jpg", n)
            filler = disk / "filler"
            free = shutil.disk_usage(disk).free
            with open(filler, "wb") as fh:
                fh.write(b"\0" * max(0, free - leave_kb * 1024))
            full = cli("process", batch, "--out", out, "--jobs", "1")
            filler.unlink()
            rerun = cli("process", batch, "--out", out, "--jobs", "1")
            runs = [r["status"] for r in json.loads(cli("status", out, "--json").stdout)["runs"]]
            intact = verify_ok(out)
            left = leftovers(out)
            cases.append(
                Case(
                    "resources",
                    f"disk full during `process` ({leave_kb} KB left), then space freed and the same command again",
                    f"runs: {', '.join(runs)}; verify {'intact' if intact else 'NOT intact'}",
                    f"{full.returncode}, rerun {rerun.returncode}",
                    said(full),
                    ", ".join(left) or "nothing",
                    full.returncode == 5
                    and rerun.returncode in COMPLETED
                    and intact
                    and not left
                    and "Traceback" not in full.stderr,
                )
            )
            shutil.rmtree(out, ignore_errors=True)
        out = disk / "out-ro"
        batch = work / "full-batch-16"
        cli("process", batch, "--out", out, "--jobs", "1")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        export = cli("export", out)
        intact = verify_ok(out)
        cases.append(
            Case(
                "resources",
                '`export` into an OUT on a read-only file system (what root meets instead of "permission denied")',
                f"refused; verify of the read-only OUT {'intact' if intact else 'NOT intact'}",
                str(export.returncode),
                said(export),
                "nothing",
                export.returncode == 5 and intact,
            )
        )
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    return cases


def tampering(work: Path) -> list[Case]:
    batch = small_batch(work / "batch")
    base = work / "tamper-base"
    if not base.exists():
        cli("process", batch, "--catalog", batch / "catalog.csv", "--out", base, "--jobs", "2", "--dpi", "300")
        cli("export", base)
        cli("qc", base, "--no-masters")
        cli("handoff", base, "--to", work / "tamper-bag", "--force", "--reason", "fault trial", "--no-progress")
    name = SAMPLE_DOCS[0]

    def sql(statement: str) -> Callable[[Path], None]:
        def edit(out: Path) -> None:
            db = sqlite3.connect(out / "journal.sqlite")
            db.execute(statement)
            db.commit()
            db.close()

        return edit

    def zero_page(out: Path) -> None:
        with open(out / "journal.sqlite", "r+b") as fh:
            fh.seek(4096 * 3)
            fh.write(bytes(4096))

    def edit(rel: str) -> Callable[[Path], None]:
        def change(out: Path) -> None:
            path = out / rel
            path.write_bytes(path.read_bytes().replace(b">", b"> ", 1))

        return change

    def add_folder(out: Path) -> None:
        blank(out / "documents" / "EXTRA-0001" / "0001.png")

    cases = [
        (
            "the last 13 journal events deleted (QC's among them)",
            sql("DELETE FROM events WHERE seq > (SELECT max(seq) - 13 FROM events)"),
        ),
        ("an event's detail edited", sql("UPDATE events SET detail='{}' WHERE seq=3")),
        ("a `documents` row edited (题名)", sql("UPDATE documents SET title='改' WHERE rowid=1")),
        (
            "a `pages` row edited (an output's checksum, still readable)",
            sql("""UPDATE pages SET outputs=replace(outputs, '"sha256":"', '"sha256":"0') WHERE rowid=1"""),
        ),
        (
            "a `pages` row edited (no longer readable)",
            sql("UPDATE pages SET outputs=replace(outputs, 'a', 'b') WHERE rowid=1"),
        ),
        ("journal.sqlite with a zeroed page", zero_page),
        ("an extra document folder", add_folder),
        ("DA/T 46 XML edited", edit(f"documents/{name}/{name}.xml")),
        ("目录文件.xml edited", edit("catalog/目录文件.xml")),
        ("qc/report.html edited", edit("qc/report.html")),
        ("a PDF/A edited", edit(f"documents/{name}/{name}.pdf")),
    ]
    results = []
    for label, tamper in cases:
        out = work / "tampered"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(base, out)
        tamper(out)
        result = cli("verify", out, "--no-record")
        status = cli("status", out)
        ok = result.returncode in (4, 6) and "Traceback" not in result.stderr + status.stderr
        message = said(result)
        results.append(
            Case(
                "tampering",
                f"`verify OUT` after: {label}",
                "found" if ok else "MISSED",
                f"{result.returncode} (status {status.returncode})",
                message.strip(),
                "-",
                ok,
            )
        )
    bag = work / "tampered-bag"
    shutil.rmtree(bag, ignore_errors=True)
    shutil.copytree(work / "tamper-bag", bag)
    (bag / "notes.txt").write_text("x", encoding="utf-8")
    result = cli("verify", bag)
    results.append(
        Case(
            "tampering",
            "`verify BAG` with an extra file at the bag's root",
            "found" if result.returncode == 4 else "MISSED",
            str(result.returncode),
            [line for line in result.stdout.splitlines() if "notes.txt" in line][0].strip()
            if result.returncode == 4
            else said(result),
            "-",
            result.returncode == 4,
        )
    )
    return results


def hostile(work: Path) -> list[Case]:
    base = work / "hostile"
    shutil.rmtree(base, ignore_errors=True)
    cases: list[Case] = []

    def case(
        label: str, expected: int, args: list[object], words: str, extra: Callable[[], bool] = lambda: True
    ) -> None:
        result = cli(*args)
        ok = (
            result.returncode == expected
            and "Traceback" not in result.stderr
            and words in result.stdout + result.stderr
            and extra()
        )
        cases.append(
            Case(
                "inputs",
                label,
                "refused" if expected in (2, 1) else "done",
                str(result.returncode),
                said(result) if expected != 0 else words,
                "nothing",
                ok,
            )
        )

    batch = base / "colon"
    blank(batch / "A:0001" / "0001.png")
    blank(batch / "A_0001" / "0001.png")
    case(
        "folders `A:0001` and `A_0001` (same output name)",
        2,
        ["process", batch, "--out", base / "o1"],
        "overwrite each other",
    )
    batch = base / "nfd"
    blank(batch / unicodedata.normalize("NFC", "café-1") / "0001.png")
    blank(batch / unicodedata.normalize("NFD", "café-1") / "0001.png")
    case("folders `café` in NFC and in NFD", 2, ["process", batch, "--out", base / "o2"], "overwrite each other")
    batch = base / "hidden"
    blank(batch / "A" / "0001.png")
    blank(batch / ".B" / "0001.png")
    case(
        "a hidden document folder `.B`",
        0,
        ["process", batch, "--out", base / "o3", "--jobs", "1"],
        "hidden (its name starts with '.')",
    )
    batch = base / "links"
    blank(batch / "A" / "0001.png")
    (batch / "B").mkdir()
    (batch / "B" / "0001.png").symlink_to("/etc/passwd")
    case(
        "a page that is a link to /etc/passwd",
        1,
        ["process", batch, "--out", base / "o4", "--jobs", "1"],
        "outside the batch folder",
        lambda: not any("passwd" in p.name for p in (base / "o4").rglob("*")),
    )
    book = openpyxl.Workbook()
    book.active.append(HEADER)
    book.active.append(["A-0001", "题名", "20190101", "某局", "永久"])
    book.save(base / "plain.xlsx")
    for label, dtd in (
        ("XXE", b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
        ("billion laughs", b'<!DOCTYPE worksheet [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'),
    ):
        hostile_book = base / f"{label}.xlsx"
        with zipfile.ZipFile(base / "plain.xlsx") as zin, zipfile.ZipFile(hostile_book, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                zout.writestr(item, dtd + data if item.filename.endswith("sheet1.xml") else data)
        case(
            f"XLSX catalogue with an {label} payload",
            2,
            ["process", base / "hidden", "--catalog", hostile_book, "--out", base / "o5"],
            "DTD",
        )
    book = openpyxl.Workbook()
    book.active.append(HEADER)
    book.active.append(["A-0001", '="题"&"名"', "20190101", "某局", "永久"])
    book.save(base / "formulas.xlsx")
    case(
        "XLSX catalogue whose formulas have no saved values",
        2,
        ["process", base / "hidden", "--catalog", base / "formulas.xlsx", "--out", base / "o6"],
        "B2",
    )
    tiff = base / "tiff" / "T" / "T.tif"
    tiff.parent.mkdir(parents=True)
    frames = [Image.fromarray(np.random.default_rng(n).integers(0, 256, (120, 90), dtype=np.uint8)) for n in range(3)]
    frames[0].save(tiff, save_all=True, append_images=frames[1:], compression="tiff_lzw", dpi=(300, 300))
    with Image.open(tiff) as im:
        im.seek(1)
        offset, length = im.tag_v2[273][0], im.tag_v2[279][0]
    data = bytearray(tiff.read_bytes())
    data[offset : offset + length] = b"\xff" * length
    tiff.write_bytes(bytes(data))
    case(
        "multi-page TIFF with a damaged second frame",
        1,
        ["process", base / "tiff", "--out", base / "o7", "--jobs", "1"],
        "frame 2",
    )
    broken = base / "broken.csv"
    broken.write_bytes("档号\n".encode("utf-16"))
    case(
        "`export --catalog` with an unreadable catalogue", 2, ["export", base / "o3", "--catalog", broken], "broken.csv"
    )
    case("`stats --catalog` with an unreadable catalogue", 2, ["stats", base / "o3", "--catalog", broken], "broken.csv")
    return cases


GROUPS = {"kill": kills, "concurrent": concurrent, "disk": disk_full, "tamper": tampering, "inputs": hostile}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20, help="kill -9 trials per command")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--only", choices=sorted(GROUPS), action="append")
    ap.add_argument("--commands", nargs="+", choices=COMMANDS, default=COMMANDS, help="commands the kill group kills")
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="write every case with its trials here")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="bench-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cases: list[Case] = []
    for name in a.only or list(GROUPS):
        run = GROUPS[name]
        cases += kills(work, a.kills, a.seed, tuple(a.commands)) if name == "kill" else run(work)
        print(f"[{name} done after {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    print("| case | outcome | exit | message | left after the rerun | as it should be |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        print(case.row())
    print(f"\n{sum(c.ok for c in cases)}/{len(cases)} cases as they should be; {time.perf_counter() - started:.0f} s")
    if a.json:
        a.json.write_text(json.dumps([asdict(c) for c in cases], ensure_ascii=False, indent=1), encoding="utf-8")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
