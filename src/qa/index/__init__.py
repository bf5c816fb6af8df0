"""Stage 3, index: passages + vectors -> a built index folder, and retrieval over it.

Takes documents, passages and vectors; gives an index folder written atomically (`store`,
`built`), built incrementally (`build`), and the dense and keyword retrieval that the query
stage asks of it, behind one interface (`backend`; FAISS + BM25 in `faiss_backend`).
"""
