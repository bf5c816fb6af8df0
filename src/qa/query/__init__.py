"""Stage 4, query: question -> ranked hits -> an answer that quotes and cites them.

Takes a loaded index and a question (with its conversation and a document filter); gives an
`Answer`: quoted sentences, cited passages with exact offsets, or an abstention. `engine` ties
it together with caches; `evaluate` scores it on labelled sets.
"""
