"""Exceptions raised by the library; only the edges (CLI, web) turn them into messages."""


class QaError(Exception):
    """Base class: every error a user can hit carries a message saying what to do."""


class DocsFolderError(QaError):
    """The documents folder is missing or holds nothing indexable."""


class DocumentError(QaError):
    """One document cannot be read; it is skipped with this reason."""


class SetupError(DocumentError):
    """A document cannot be read for what this machine or its settings lack (Tesseract, a page
    limit too low), not for what the file is: it is skipped, and the next build tries it again
    instead of remembering the skip."""


class IndexMissingError(QaError):
    """No index has been built yet."""


class IndexCorruptError(QaError):
    """The index on disk is incomplete, damaged or built for another model/format."""


class IndexVersionError(IndexCorruptError):
    """The index was written in another format version (by an older or newer qa)."""

    def __init__(self, message: str, *, version: object) -> None:
        super().__init__(message)
        self.version = version


class UnknownSourceError(QaError):
    """A document filter names a document the index does not hold (a typo, or not indexed yet)."""


class IndexBusyError(QaError):
    """Another build holds the index lock."""


class ModelError(QaError):
    """The embedding model cannot be loaded."""


class BuildCancelledError(QaError):
    """A build was stopped before it finished; the previous index is untouched."""


class ServeError(QaError):
    """The app cannot listen where it was asked to (port taken, address not on this machine)."""


class AuthFileError(QaError):
    """QA_AUTH names a file that is missing, a folder, or unreadable."""
