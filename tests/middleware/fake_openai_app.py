"""A stand-in for vLLM's OpenAI-compatible server (FastAPI, as vLLM is), for
the test of contrib/llm_log_exporter_middleware.py.

Answers like vLLM does, deterministically (same request, same bytes, so two
servers can be compared byte for byte):

- POST /v1/chat/completions and /v1/completions: usage.prompt_tokens is the
  number of characters of the prompt (or of all message contents),
  usage.completion_tokens is max_tokens (default 5); finish_reason is "length"
  when max_tokens was given, else "stop". With "stream": true, SSE chunks as
  vLLM sends them (chat: a role chunk, one chunk per token, a chunk with
  finish_reason; then, with stream_options.include_usage, a chunk with
  "choices": [] and the usage; then "data: [DONE]").
- model "bad": a 400 with vLLM's JSON error body.
- model "endless" with stream: a stream that never ends (for a client that
  leaves in the middle).
- model "hang" without stream: waits until the client disconnects, then
  answers like vLLM's with_cancellation does (the response goes nowhere).
- POST /v1/embeddings: usage with prompt_tokens and total_tokens only.
- GET /health, GET /v1/models.
"""

import asyncio
import hashlib
import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

CREATED = 1743848625
app = FastAPI()


def _id(prefix, body):
    return prefix + hashlib.sha256(body).hexdigest()[:24]


def _sse(obj):
    return "data: " + json.dumps(obj, separators=(",", ":")) + "\n\n"


def _error(message, code=400):
    return JSONResponse({"object": "error", "message": message, "type": "BadRequestError",
                         "param": None, "code": code}, status_code=code)


async def _wait_for_disconnect(request):
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


@app.get("/health")
async def health():
    return Response(status_code=200)


@app.get("/v1/models")
async def models():
    return {"object": "list", "data": [{"id": "qwen-test", "object": "model",
                                        "created": CREATED, "owned_by": "vllm"}]}


async def _completion(request, chat):
    raw = await request.body()
    try:
        req = json.loads(raw)
    except ValueError:
        return _error("invalid JSON")
    model = req.get("model", "qwen-test")
    if model == "bad":
        return _error("The model `bad` does not exist.")
    if chat:
        prompt_tokens = sum(len(m.get("content", "")) for m in req.get("messages", []))
    else:
        prompt_tokens = len(req.get("prompt", ""))
    n = req.get("max_tokens", 5)
    finish = "length" if "max_tokens" in req else "stop"
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + n,
             "completion_tokens": n, "prompt_tokens_details": None}
    rid = _id("chatcmpl-" if chat else "cmpl-", raw)
    obj = "chat.completion" if chat else "text_completion"
    tokens = ["tok%d " % i for i in range(n)]

    if model == "hang" and not req.get("stream"):
        await _wait_for_disconnect(request)
        return Response(status_code=200)

    if not req.get("stream"):
        if chat:
            choice = {"index": 0, "message": {"role": "assistant", "reasoning_content": None,
                                              "content": "".join(tokens), "tool_calls": []},
                      "logprobs": None, "finish_reason": finish, "stop_reason": None}
        else:
            choice = {"index": 0, "text": "".join(tokens), "logprobs": None,
                      "finish_reason": finish, "stop_reason": None, "prompt_logprobs": None}
        return JSONResponse({"id": rid, "object": obj, "created": CREATED, "model": model,
                             "choices": [choice], "usage": usage,
                             "prompt_logprobs": None})

    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    chunk_obj = "chat.completion.chunk" if chat else "text_completion"

    def chunk(choices, **extra):
        d = {"id": rid, "object": chunk_obj, "created": CREATED, "model": model,
             "choices": choices}
        d.update(extra)
        return _sse(d)

    async def events():
        if chat:
            yield chunk([{"index": 0, "delta": {"role": "assistant", "content": ""},
                          "logprobs": None, "finish_reason": None}])
        i = 0
        while model == "endless" or i < n:
            text = "tok%d " % i
            last = model != "endless" and i == n - 1
            if chat:
                yield chunk([{"index": 0, "delta": {"content": text}, "logprobs": None,
                              "finish_reason": finish if last else None}])
            else:
                yield chunk([{"index": 0, "text": text, "logprobs": None,
                              "finish_reason": finish if last else None,
                              "stop_reason": None}])
            i += 1
            if model == "endless":
                await asyncio.sleep(0.01)  # pacing of the fake model, not synchronisation
        if include_usage:
            yield chunk([], usage=usage)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@app.post("/v1/chat/completions")
async def chat_completions(request: Request):
    return await _completion(request, chat=True)


@app.post("/v1/completions")
async def completions(request: Request):
    return await _completion(request, chat=False)


@app.post("/v1/embeddings")
async def embeddings(request: Request):
    raw = await request.body()
    req = json.loads(raw)
    inputs = req["input"] if isinstance(req["input"], list) else [req["input"]]
    tokens = sum(len(s) for s in inputs)
    return {"id": _id("embd-", raw), "object": "list", "created": CREATED,
            "model": req.get("model", "qwen-test"),
            "data": [{"index": i, "object": "embedding", "embedding": [0.25] * 8}
                     for i in range(len(inputs))],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
