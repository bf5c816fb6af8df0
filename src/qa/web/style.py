"""How the page looks: Gradio's theme and qa's few CSS rules (the classes render.py emits)."""

from __future__ import annotations

import gradio as gr

CSS = """
.qa-answer .qa-text { margin: 0 0 .4em; line-height: 1.55; }
.qa-marker { color: var(--color-accent); font-weight: 600; margin-left: 1px; }
.qa-abstained .qa-text { font-style: italic; }
.qa-answer pre.qa-code { margin: 0 0 .4em; padding: .5em .7em; overflow-x: auto;
  white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: .9em;
  background: var(--block-background-fill, #f4f4f5); border-radius: 4px; }
.qa-hint, .qa-note { font-size: .85em; opacity: .75; margin: .2em 0; }
.qa-note.qa-weak { opacity: 1; color: #92400e; background: #fef3c7; border-radius: 4px;
  padding: 2px 6px; }
.qa-passages { display: flex; flex-direction: column; gap: 6px; margin-top: .4em; }
.qa-passage { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 6px 10px; background: var(--background-fill-primary); }
.qa-passage summary { cursor: pointer; font-size: .9em; }
.qa-rank { font-weight: 700; color: var(--color-accent); }
.qa-source { font-weight: 600; word-break: break-all; }
.qa-where, .qa-score { opacity: .7; margin-left: .4em; }
.qa-badge { font-size: .75em; margin-left: .5em; padding: 1px 7px; border-radius: 999px;
  background: var(--color-accent-soft); color: var(--color-accent); }
.qa-heading { font-size: .8em; opacity: .7; margin-top: .4em; }
.qa-body { white-space: pre-wrap; font-size: .9em; line-height: 1.5; margin: .4em 0;
  max-height: 16em; overflow: auto; }
.qa-body mark { background: #fde68a; color: #111; border-radius: 2px; padding: 0 1px; }
.qa-term { font-weight: 650; }
.qa-cite, .qa-also { font-size: .8em; opacity: .85; }
.qa-cite code, .qa-also code { user-select: all; }
.qa-also ul { margin: .2em 0 0 1.2em; }
.qa-open { margin-left: .4em; white-space: nowrap; }
.qa-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.qa-more { margin-top: .4em; }
.qa-more > summary { cursor: pointer; font-size: .85em; opacity: .75; }
.qa-question { white-space: pre-wrap; }
.qa-state, .qa-index, .qa-pending { margin: .15em 0; font-size: .9em; }
.qa-error { color: var(--error-text-color, #b91c1c); margin: .2em 0; }
#qa-header h1 { margin-bottom: 0; }
"""


def theme() -> gr.themes.Base:
    # Local fonts only: no request to a font CDN, so the page works offline and stays private.
    return gr.themes.Soft(
        primary_hue="indigo",
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )
