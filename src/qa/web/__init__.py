"""The browser app and its API: `service` (one engine, builds, uploads), `ui` and `actions`
(the Gradio page), `api` (JSON over HTTP, sign-in), `render` (HTML), `app` (assembly, serve).

An edge: the only place, with the CLI, where errors become messages.
"""
