"""What hostile or huge documents cost `qa index`: wall time and peak memory per case.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/extract_bombs.py [--cases pdf_pages,html]
        [--scale 1.0] [--timeout 900] [--keep DIR]

Each case is generated at full size (the figures of issue 24) into a temporary documents folder
beside one short normal note, then a fresh `python -m qa.cli.main index --json` indexes it. Printed
per case: the file's size, wall seconds, the peak RSS of the largest process of the run (the
qa process or its document reader; os.wait4's ru_maxrss), the peak of the whole process
tree's RSS sampled every 20 ms, the exit code, and what the report said about the file.

Cases (issue 24, items 2, 3 and 6):
  pdf_pages    20 pages, each its own Flate stream inflating to 70 MB (a 1.4 MB file)
  pdf_shared   10 pages that all point at one 70 MB stream (a 70 KB file)
  pdf_huge     one page whose stream inflates to 1.5 GB
  docx         a .docx whose word/document.xml is 400 MB
  html         a 20 MB page of 2.5 million <b>a</b>
  text         a 300 MB text file
  pdf_normal   a normal 50-page text PDF (the cost of the guard for ordinary files)

With PYTHONPATH pointing at another checkout's src/ (e.g. a worktree of the base commit), the
same cases measure that code: `--timeout` caps a run that would take too long (the process is
killed and the row says so).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

MB = 1024 * 1024


# --------------------------------------------------------------------------- generators


def _pdf(page_streams: list[int], streams: list[Iterator[bytes]]) -> bytes:
    """A PDF whose page i shows stream page_streams[i]; each stream is Flate-compressed from
    the chunks its iterator yields (so a 1.5 GB stream never sits in memory here)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    first_stream = len(objects) + 1
    for chunks in streams:
        packer = zlib.compressobj(9)
        body = b"".join(packer.compress(chunk) for chunk in chunks) + packer.flush()
        head = f"<< /Length {len(body)} /Filter /FlateDecode >>\nstream\n".encode()
        objects.append(head + body + b"\nendstream")
    kids = []
    for index in page_streams:
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Contents {first_stream + index} 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
            .encode()
        )  # fmt: skip
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    out += trailer.encode()
    return bytes(out)


def _padded_text(text: str, size: int) -> Iterator[bytes]:
    """A content stream showing `text`, then `size` bytes of blank space (what a bomb inflates)."""
    yield f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET\n".encode()
    block = b" " * MB
    for _ in range(size // MB):
        yield block
    yield b" " * (size % MB)


def pdf_pages(scale: float) -> tuple[str, bytes]:
    size = int(70 * MB * scale)
    streams = [_padded_text(f"Page {n} of the bomb.", size) for n in range(1, 21)]
    return "bomb-pages.pdf", _pdf(list(range(20)), streams)


def pdf_shared(scale: float) -> tuple[str, bytes]:
    size = int(70 * MB * scale)
    return "bomb-shared.pdf", _pdf([0] * 10, [_padded_text("One shared stream.", size)])


def pdf_huge(scale: float) -> tuple[str, bytes]:
    size = int(1536 * MB * scale)
    return "bomb-huge.pdf", _pdf([0], [_padded_text("One huge stream.", size)])


def pdf_normal(scale: float) -> tuple[str, bytes]:
    """50 pages of 45 lines of ordinary prose each (no scaling: this is the baseline)."""
    words = (
        "the committee reviewed the annual report and found that the budget for the new "
        "library was spent on books staff and a reading room for the town"
    ).split()
    streams = []
    for page in range(50):
        lines = [
            " ".join(words[(page + line + k) % len(words)] for k in range(12)).capitalize() + "."
            for line in range(45)
        ]
        ops = ["BT /F1 10 Tf 14 TL 60 740 Td"] + [f"({line}) Tj T*" for line in lines] + ["ET"]
        streams.append(iter(["\n".join(ops).encode()]))
    return "report.pdf", _pdf(list(range(50)), streams)


_DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_bytes(paragraphs: int, text: str = "a") -> bytes:
    """A minimal .docx of `paragraphs` one-run paragraphs, written without holding the XML."""
    with tempfile.SpooledTemporaryFile() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            archive.writestr("[Content_Types].xml", _DOCX_TYPES)
            archive.writestr("_rels/.rels", _DOCX_RELS)
            with archive.open("word/document.xml", "w", force_zip64=True) as xml:
                xml.write(f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body>'.encode())
                paragraph = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()
                batch = 10_000
                for start in range(0, paragraphs, batch):
                    xml.write(paragraph * min(batch, paragraphs - start))
                xml.write(b"</w:body></w:document>")
        out.seek(0)
        return out.read()


def docx(scale: float) -> tuple[str, bytes]:
    paragraph = len("<w:p><w:r><w:t>a</w:t></w:r></w:p>")
    return "bomb.docx", docx_bytes(int(400 * MB * scale) // paragraph)


def html(scale: float) -> tuple[str, bytes]:
    return "page.html", b"<html><body>" + b"<b>a</b>" * int(2_500_000 * scale) + b"</body></html>"


def text(scale: float) -> tuple[str, bytes]:
    line = b"A plain line of text in a very large file, repeated to fill it up.\n"
    return "huge.txt", line * (int(300 * MB * scale) // len(line))


CASES: dict[str, Callable[[float], tuple[str, bytes]]] = {
    "pdf_pages": pdf_pages,
    "pdf_shared": pdf_shared,
    "pdf_huge": pdf_huge,
    "docx": docx,
    "html": html,
    "text": text,
    "pdf_normal": pdf_normal,
}


# --------------------------------------------------------------------------- measuring


def _tree_rss(root: int) -> int:
    """Sum of the RSS of `root` and its descendants, in bytes (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry), int(fields[1])
        children.setdefault(parent, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


# `qa index` as the console script runs it, with a constant embedder in place of the model:
# what a document costs to read is measured here, not how fast the model embeds its passages
# (bench/index_throughput.py measures that).
_CHEAP_MODEL = """
import sys
import numpy as np
import qa.index.build, qa.cli.main

class Constant:
    model_name, dimension = "bench-constant", 384

    def embed(self, texts, *, batch_size=32, progress=None):
        out = np.zeros((len(texts), self.dimension), np.float32)
        out[:, 0] = 1.0
        if progress is not None:
            progress(len(texts))
        return out

qa.index.build.load_embedder = lambda settings: Constant()
sys.exit(qa.cli.main.main(sys.argv[1:]))
"""


def make_case(name: str, scale: float, root: Path) -> None:
    """The case's file and a short normal note in root/docs."""
    docs = root / "docs"
    docs.mkdir()
    file_name, data = CASES[name](scale)
    (docs / file_name).write_bytes(data)
    (docs / "note.txt").write_text("A short normal note, so the build has something to index.\n")


def run_case(root: Path, timeout: float, *, model: bool) -> dict[str, object]:
    """Index root/docs in a fresh process and measure it. Runs in a process that never held a
    big case in memory: a child's ru_maxrss starts at its parent's high-water mark at fork."""
    docs = root / "docs"
    file_name = next(p.name for p in docs.iterdir() if p.name != "note.txt")
    file_size = (docs / file_name).stat().st_size
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = ["-m", "qa.cli"] if model else ["-c", _CHEAP_MODEL]
    args = [sys.executable, *command, "index", "--json"]
    args += ["--docs", str(docs), "--index", str(root / "index")]
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_tree, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak_tree[0] = max(peak_tree[0], _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outputs: list[bytes] = []
    reader = threading.Thread(target=lambda: outputs.extend(proc.communicate()), daemon=True)
    reader.start()
    reader.join(timeout)
    killed = reader.is_alive()
    if killed:
        proc.kill()  # the run's own process, started above
        reader.join()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    usage = proc.returncode
    maxrss = _children_maxrss()
    out, err = [*outputs, b"", b""][:2]
    said = _what_was_said(out.decode(errors="replace"), err.decode(errors="replace"), file_name)
    return {
        "file_mb": round(file_size / MB, 2),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(maxrss / MB),
        "peak_tree_rss_mb": round(peak_tree[0] / MB),
        "exit": "killed at timeout" if killed else usage,
        "said": said,
    }


_last_maxrss = [0]


def _children_maxrss() -> int:
    """ru_maxrss of the largest waited-for descendant so far (KiB on Linux). RUSAGE_CHILDREN
    only ever grows, so each case runs in a process of its own (see main)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def _what_was_said(out: str, err: str, file_name: str) -> str:
    lines = [line for line in err.splitlines() if file_name in line]
    try:
        report = json.loads(out.splitlines()[-1])
    except (IndexError, ValueError):
        return " | ".join(lines) or (err.strip().splitlines() or ["(nothing)"])[-1]
    if file_name in report["skip_reasons"]:
        return f"skipped: {report['skip_reasons'][file_name]}"
    passages = report["passages"]
    return " | ".join(lines) or f"indexed ({passages} passages in all)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: the issue's sizes")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per case")
    parser.add_argument("--keep", type=Path, help="generate under DIR and keep the folders")
    parser.add_argument(
        "--model", action="store_true", help="embed with the real model (default: a constant)"
    )
    parser.add_argument("--make", help=argparse.SUPPRESS)  # internal: generate one case
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one case
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_case(args.make, args.scale, args.root)
        return
    if args.one:
        print(json.dumps(run_case(args.root, args.timeout, model=args.model)))
        return
    print(f"qa from: {_qa_location()}; scale {args.scale}; timeout {args.timeout:g} s")
    header = f"{'case':<11} {'file MB':>8} {'wall s':>7} {'peak RSS MB':>11} {'tree MB':>8}  exit"
    print(header)
    for name in args.cases.split(","):
        root = Path(tempfile.mkdtemp(prefix=f"qa-bomb-{name}-", dir=args.keep))
        script = [sys.executable, __file__, "--root", str(root), "--scale", str(args.scale)]
        subprocess.run([*script, "--make", name], check=True)
        # A process per case: RUSAGE_CHILDREN's maximum never goes down.
        one = [*script, "--one", name, "--timeout", str(args.timeout)]
        one += ["--model"] if args.model else []
        row = json.loads(subprocess.run(one, check=True, capture_output=True).stdout)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
        print(
            f"{name:<11} {row['file_mb']:>8} {row['wall_s']:>7} {row['peak_rss_mb']:>11} "
            f"{row['peak_tree_rss_mb']:>8}  {row['exit']}\n{'':<11} {row['said']}",
            flush=True,
        )


def _qa_location() -> str:
    found = subprocess.run(
        [sys.executable, "-c", "import qa, os; print(os.path.dirname(qa.__file__))"],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or found.stderr.strip()


if __name__ == "__main__":
    main()
