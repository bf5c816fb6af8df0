"""The page in a real browser (Debian's Chromium driven by Playwright): ask, read the
citation, expand a passage, upload + rebuild, and injected markup that must stay text.

A failing test leaves a full-page screenshot in test-artifacts/<test name>.png.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_web import (
    DIRECTOR_Q,
    FILM_COPY,
    FILM_SOURCE,
    QUOKKA_Q,
    QUOKKA_TEXT,
    GatedEmbedder,
    Running,
    make_settings,
    running,
)

from qa.web.actions import IDLE_POLL
from qa.web.service import BUSY

CHROMIUM = shutil.which("chromium")
SEED_NAMES = [p.name for p in (Path(__file__).resolve().parent.parent / "seeds").iterdir()]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL_TEXT = (
    "Injection test\n\nThe pwned marker reads <script>window.__pwned=1</script> and also "
    '<img src=x onerror="window.__pwned=1"> inside the document text.\n'
)
EVIL_NAME = "<img src=x onerror=window.__pwned=3>.txt"  # a legal file name on Linux
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("browser"))
    (settings.docs / "evil.txt").write_text(EVIL_TEXT, encoding="utf-8")
    (settings.docs / EVIL_NAME).write_text("A harmless document with a hostile name.\n")
    with running(settings) as server:
        yield server


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    failed_before = request.session.testsfailed
    yield page
    # The call phase is reported before teardown: a higher count means this test failed.
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def open_app(page: Any, server: Running) -> None:
    page.goto(server.url + "/")
    expect(page.locator("#qa-status")).to_contain_text("Ready")


def ask(page: Any, question: str) -> Any:
    """Type, press Enter, and return the newest answer once it is there."""
    answers = page.locator("#qa-chat .qa-answer")
    before = answers.count()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    expect(answers).to_have_count(before + 1)
    return answers.last


def test_question_gets_a_cited_answer_with_highlighted_passage(
    page: Any, seeded_app: Running
) -> None:
    open_app(page, seeded_app)
    answer = ask(page, DIRECTOR_Q)
    expect(answer.locator(".qa-text")).to_contain_text("directed by Chen Kaige")
    expect(answer.locator(".qa-marker").first).to_have_text("[1]")
    passage = answer.locator(".qa-passage").first
    expect(passage.locator(".qa-source")).to_have_text(FILM_SOURCE)
    expect(passage.locator(".qa-where")).to_have_text(
        "lines " + "-".join(map(str, seeded_app.service.ask(DIRECTOR_Q).passages[0].lines))
    )
    mark = passage.locator("mark").first
    expect(mark).to_be_hidden()  # collapsed until clicked
    passage.locator("summary").click()
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("directed by Chen Kaige, Tsui Hark and Dante Lam")
    expect(passage.locator(".qa-also")).to_contain_text(FILM_COPY)
    citations = page.locator("#qa-citations textarea")
    expect(citations).to_have_value(
        f"[1] {seeded_app.service.ask(DIRECTOR_Q).passages[0].citation}"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ask.png"), full_page=True)  # for a human look


def test_open_in_document_shows_the_passage_in_place(page: Any, seeded_app: Running) -> None:
    open_app(page, seeded_app)
    passage = ask(page, DIRECTOR_Q).locator(".qa-passage").first
    passage.locator("summary").click()
    cited = seeded_app.service.ask(DIRECTOR_Q).passages[0]
    with page.context.expect_page() as opened:
        passage.get_by_role("link", name=f"open in document for {cited.citation}").click()
    document = opened.value
    document.wait_for_load_state()
    expect(document).to_have_title(cited.citation)
    expect(document.locator("#passage mark")).to_have_text(
        "The Battle at Lake Changjin, directed by Chen Kaige, Tsui Hark and Dante Lam, premiered "
        "at the Beijing International Film Festival on 21 September 2021 and was released in "
        "China on 30 September."
    )
    expect(document.locator("#passage")).to_be_in_viewport()
    expect(document.locator(".text")).to_contain_text("Continue reading")  # the whole document


def test_example_and_clear(page: Any, seeded_app: Running) -> None:
    open_app(page, seeded_app)
    page.get_by_text("How many US military bases are in South Korea?").click()
    answers = page.locator("#qa-chat .qa-answer")
    expect(answers).to_have_count(1)
    expect(answers.first.locator(".qa-text")).to_contain_text("73 US military bases")
    page.get_by_role("button", name="Clear conversation").click()
    expect(answers).to_have_count(0)
    expect(page.locator("#qa-citations textarea")).to_have_value("")


def test_examples_are_hidden_when_the_documents_cannot_answer_them(
    page: Any, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "app", seeds=False)
    (settings.docs / "quokka.txt").write_text(QUOKKA_TEXT, encoding="utf-8")
    with running(settings) as server:
        open_app(page, server)
        expect(page.get_by_text("How many US military bases are in South Korea?")).to_be_hidden()
        expect(page.locator("#qa-question textarea")).to_be_visible()


def test_injected_markup_stays_text(page: Any, seeded_app: Running) -> None:
    open_app(page, seeded_app)
    hostile_question = 'What does the pwned marker read? <img src=x onerror="window.__pwned=2">'
    answer = ask(page, hostile_question)
    expect(page.locator("#qa-chat .qa-question").last).to_have_text(hostile_question)
    passage = answer.locator(".qa-passage").first
    expect(passage.locator(".qa-source")).to_have_text("evil.txt")
    passage.locator("summary").click()
    body = passage.locator(".qa-body")
    expect(body).to_contain_text("<script>window.__pwned=1</script>")
    expect(body).to_contain_text('<img src=x onerror="window.__pwned=1">')
    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#qa-documents")).to_contain_text(EVIL_NAME)
    page.wait_for_timeout(500)  # give any injected handler the chance to run
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#qa-chat img, #qa-chat script, #qa-documents img").count() == 0


def test_upload_is_indexed_at_once_then_delete_undo_and_restore(page: Any, tmp_path: Path) -> None:
    """As `qa add`, `qa delete` and `qa restore` do, each change from the page is indexed at
    once; a deletion can be undone from its message; two restores in a row raise no error."""
    settings = make_settings(tmp_path / "app")
    uploads = []
    for name in ("quokka.txt", "numbat.txt", "wombat.txt"):
        text = QUOKKA_TEXT if name == "quokka.txt" else f"The {name[:-4]} digs at dusk.\n"
        (tmp_path / name).write_text(text, encoding="utf-8")
        uploads.append(str(tmp_path / name))
    with running(settings) as server:
        open_app(page, server)
        page.get_by_role("tab", name="Documents").click()
        page.locator("#qa-upload input[type=file]").set_input_files(uploads)
        message = page.locator("#qa-docs-message")
        expect(message).to_contain_text("Added quokka.txt, numbat.txt, wombat.txt.")
        expect(message).to_contain_text(
            "(3 added, 0 changed, 0 removed, 0 skipped)", timeout=60_000
        )
        table = page.locator("#qa-documents")
        expect(table).not_to_contain_text("not in the index yet")
        page.get_by_role("tab", name="Ask").click()
        answer = ask(page, QUOKKA_Q)
        expect(answer.locator(".qa-text")).to_contain_text("held every March")
        expect(answer.locator(".qa-passage .qa-source").first).to_have_text("quokka.txt")

        page.get_by_role("tab", name="Documents").click()
        delete(page, "quokka.txt")
        expect(message).to_contain_text("Deleted quokka.txt: moved to ")
        expect(message).to_contain_text(
            "(0 added, 0 changed, 1 removed, 0 skipped)", timeout=60_000
        )
        assert not (settings.docs / "quokka.txt").exists()
        assert "quokka.txt" not in server.service.sources()
        page.locator("#qa-undo").click()
        expect(message).to_contain_text("Restored quokka.txt.")
        expect(message).to_contain_text(
            "(1 added, 0 changed, 0 removed, 0 skipped)", timeout=60_000
        )
        expect(page.locator("#qa-undo")).to_be_hidden()
        assert (settings.docs / "quokka.txt").read_text(encoding="utf-8") == QUOKKA_TEXT
        assert "quokka.txt" in server.service.sources()

        for name in ("numbat.txt", "wombat.txt"):
            delete(page, name)
            expect(message).to_contain_text("1 removed", timeout=60_000)
            # The table loses its row once the refresh after indexing is in: the page has
            # settled, and the lists below it stop moving under the pointer.
            expect(table).not_to_contain_text(name)
        for name in ("numbat.txt", "wombat.txt"):  # twice in a row, as a user clicks
            page.get_by_label("Restore a deleted document").click()
            page.get_by_role("option", name=re.compile(rf"^{name} \(deleted .* UTC\)$")).click()
            expect(page.get_by_label("Restore a deleted document")).to_have_value(
                re.compile(rf"^{name} \(deleted .* UTC\)$")
            )
            page.get_by_role("button", name="Restore", exact=True).click()
            expect(message).to_contain_text(f"Restored {name}.")
            expect(message).to_contain_text("1 added", timeout=60_000)
        page.wait_for_timeout(int(IDLE_POLL * 1000) + 500)  # a status tick with the old pick
        expect(page.get_by_test_id("toast-body")).to_have_count(0)
        assert sorted(server.service.sources()) == sorted(
            ["numbat.txt", "quokka.txt", "wombat.txt", *SEED_NAMES]
        )


def delete(page: Any, name: str) -> None:
    page.get_by_label("Delete a document").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.get_by_role("button", name="Delete", exact=True).click()


def test_second_rebuild_click_is_told_one_is_running(
    browser: Any, page: Any, tmp_path: Path
) -> None:
    embedder = GatedEmbedder()
    with running(make_settings(tmp_path), embedder_factory=lambda: embedder) as server:
        embedder.gate.clear()  # the next build waits inside embed() until released
        embedder.building.clear()
        (server.service.settings.docs / "quokka.txt").write_text(QUOKKA_TEXT)
        other = browser.new_page()
        try:
            for tab in (page, other):
                open_app(tab, server)
                tab.get_by_role("tab", name="Documents").click()
            other.wait_for_timeout(1500)  # both pages idle: their start-up ticks are over
            page.locator("#qa-rebuild").click()
            assert embedder.building.wait(30)
            # The other page learns of the build at its next status tick (IDLE_POLL apart).
            expect(other.locator("#qa-docs-status")).to_contain_text(
                "Rebuilding", timeout=(IDLE_POLL + 7) * 1000
            )
            other.locator("#qa-rebuild").click()
            expect(other.get_by_test_id("toast-body")).to_contain_text(BUSY)
        finally:
            embedder.gate.set()
            other.close()
        expect(page.locator("#qa-docs-message")).to_contain_text("Index updated")
