"""Requests the app refuses; each carries the HTTP status the JSON API answers with (the page
shows the same text in a toast)."""

from __future__ import annotations


class RequestError(Exception):
    status = 400


class NotReadyError(RequestError):
    status = 503


class BusyError(RequestError):
    status = 409


class NotFoundError(RequestError):
    status = 404


class ConflictError(RequestError):
    status = 409
