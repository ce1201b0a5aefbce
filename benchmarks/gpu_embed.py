"""Embedding throughput of all-MiniLM-L6-v2 on a GPU (docs/scaling.md's 2.6 M projection).

Run on a GPU machine from the repository root with two files beside it in ``.gpu/``: ``model/``
(the bundled model's folder; fp16 weights are enough) and ``texts.json.gz`` (a JSON list of
title + abstract strings, e.g. 30,000 random ACL Anthology abstracts). Writes
``gpu_embed.json`` to ``$OUT`` (or here): docs/s per dtype and batch size, the median of three
passes after a warm-up, and each dtype's cosine to fp32. Result: benchmarks/results/gpu_embed.json.
"""

import gzip
import json
import os
import statistics
import time


def main() -> None:
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    with gzip.open(".gpu/texts.json.gz", "rt") as fh:
        texts = json.load(fh)
    out = {"n": len(texts), "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    out["sentence_transformers"] = sentence_transformers.__version__
    rows = []
    for dtype in ("float32", "float16", "bfloat16"):
        m = SentenceTransformer(".gpu/model", device="cuda")
        m.max_seq_length = 256
        m = m.to(getattr(torch, dtype))
        for bs in (128, 512):
            m.encode(texts[:2048], batch_size=bs, convert_to_numpy=True, normalize_embeddings=True)
            torch.cuda.synchronize()
            times = []
            for rep in range(3):
                t0 = time.perf_counter()
                E = m.encode(texts, batch_size=bs, convert_to_numpy=True, normalize_embeddings=True)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            rows.append(
                {
                    "dtype": dtype,
                    "batch": bs,
                    "seconds": [round(t, 3) for t in times],
                    "docs_per_s": round(len(texts) / med, 1),
                }
            )
            print(rows[-1], flush=True)
            if dtype == "float32" and bs == 512:
                ref = E
            elif bs == 512:
                cos = (ref * E).sum(1)
                rows[-1]["cos_vs_fp32_mean"] = float(cos.mean())
                rows[-1]["cos_vs_fp32_min"] = float(cos.min())
    out["rows"] = rows
    out["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    with open(os.path.join(os.environ.get("OUT", "."), "gpu_embed.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
