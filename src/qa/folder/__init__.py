"""The documents folder as users change it: adding files (`qa add`, the page's upload),
deleting and restoring them, and what changed since the index was built.

Every name that arrives is untrusted. Used by the edges (CLI, web); reads files through the
ingest stage and compares the folder with a built index.
"""
