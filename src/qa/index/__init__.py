"""Stage 3, index: passages + vectors -> a built index folder, and retrieval over it.

Takes documents, passages and vectors; gives an index folder written atomically (`store`,
`built`), built incrementally (`build`), and the dense (`dense`, FAISS) and keyword (`keyword`,
BM25) retrieval that the query stage asks of it.
"""
