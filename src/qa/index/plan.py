"""What a build must do: the live build (when its passages can be reused), the files in the
documents folder, and which of them are new, changed, removed or skipped as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qa.embed.base import model_name
from qa.errors import DocsFolderError, IndexVersionError, QaError
from qa.index.built import DocumentEntry, Index, load
from qa.index.store import FORMAT_VERSION, listed_sources
from qa.ingest.chunking import ChunkParams
from qa.ingest.discover import discover, hash_file
from qa.ingest.documents import TYPES_IN_WORDS, Skipped
from qa.ingest.tokens import token_counter
from qa.settings import Settings


@dataclass(frozen=True)
class Found:
    source: str
    path: Path
    sha256: str


@dataclass
class Plan:
    previous: Index | None
    keep: dict[str, DocumentEntry]  # unchanged documents, reused as they are
    read: list[Found]  # new or changed documents
    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: list[Skipped]  # unchanged files that were skipped last time too
    forget_skips: bool = False  # a file skipped last time is gone: the manifest must say so
    read_seconds: float = 0.0
    # Names no UTF-8 store can hold: reported on every build, never written to the manifest.
    unnamable: list[Skipped] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return self.previous is not None and not (self.read or self.removed or self.forget_skips)


def chunk_params(settings: Settings) -> ChunkParams:
    return ChunkParams(
        target_tokens=settings.chunk_tokens, overlap_sentences=settings.chunk_overlap
    )


def previous_build(settings: Settings, warnings: list[str]) -> tuple[Index | None, set[str]]:
    """The live build when its passages can be reused (same model and chunking), and the
    documents it holds either way (so a full re-embed reports them as changed, not added)."""
    try:
        previous = load(settings.index)
    except IndexVersionError as exc:
        warnings.append(
            f"the index was written in format version {exc.version} and this qa writes "
            f"version {FORMAT_VERSION}: every document is embedded again"
        )
        return None, listed_sources(settings.index)
    except QaError as exc:
        if (settings.index / "CURRENT").exists():
            warnings.append(f"previous index not reused: {exc}")
        return None, set()
    counter = token_counter(settings.model_path)
    model = previous.manifest["model"]  # a dict: load() checked its dimension
    same_model = model.get("name") == model_name(settings.model_path)
    same_limit = model.get("max_tokens") == counter.max_tokens
    same_chunks = previous.manifest.get("chunking") == chunk_params(settings).as_dict()
    known = {d.source for d in previous.documents}
    if same_model and same_limit and same_chunks:
        return previous, known
    warnings.append("model or chunking changed: every document is embedded again")
    return None, known


def scan(docs: Path) -> list[Found]:
    paths = discover(docs)
    if not paths:
        raise DocsFolderError(
            f"No documents in {docs}. Add {TYPES_IN_WORDS} files there, "
            "or pass --docs DIR (or set QA_DOCS)."
        )
    found = []
    for path in paths:
        try:
            found.append(Found(path.relative_to(docs).as_posix(), path, hash_file(path)))
        except OSError:
            found.append(Found(path.relative_to(docs).as_posix(), path, ""))
    return found


def plan_changes(found: list[Found], previous: Index | None, known: set[str]) -> Plan:
    old = {d.source: d for d in previous.documents} if previous else {}
    old_skips = {s["source"]: s for s in previous.manifest.get("skipped", [])} if previous else {}
    plan = Plan(previous, {}, [], [], [], [], [])
    for item in found:
        entry, skip = old.get(item.source), old_skips.get(item.source)
        if entry is not None and entry.sha256 == item.sha256:
            plan.keep[item.source] = entry
        elif skip is not None and skip["sha256"] == item.sha256 and item.sha256:
            plan.skipped.append(Skipped(item.source, skip["reason"]))
        else:
            plan.read.append(item)
            (plan.changed if item.source in known else plan.added).append(item.source)
    present = {f.source for f in found}
    plan.removed = sorted(s for s in known if s not in present)
    plan.forget_skips = bool(set(old_skips) - present)
    return plan
