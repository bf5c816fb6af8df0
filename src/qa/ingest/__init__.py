"""Stage 1, ingest: files -> Documents -> passages and sentences.

Takes the documents folder; gives each readable file's text (newlines normalised, the one
reference every later offset points into) and its passages and sentences with exact character
offsets. Reading runs within limits (`limits`, `sandbox`); a new file type is a reader in
`documents`; passage cutting is `chunking`.
"""
