#!/usr/bin/env python3
"""Runs fake_openai_app under uvicorn on an inherited listening socket, adding
each --middleware the way vLLM's api_server does (an import path; a class goes
to app.add_middleware(cls), a coroutine function to app.middleware("http")).

    serve_app.py --fd N [--middleware module.Name ...]
"""

import argparse
import importlib
import inspect
import os
import sys

import uvicorn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_openai_app import app  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--middleware", action="append", default=[])
    args = parser.parse_args()
    # As vllm/entrypoints/openai/api_server.py does it.
    for middleware in args.middleware:
        module_path, object_name = middleware.rsplit(".", 1)
        imported = getattr(importlib.import_module(module_path), object_name)
        if inspect.isclass(imported):
            app.add_middleware(imported)
        elif inspect.iscoroutinefunction(imported):
            app.middleware("http")(imported)
        else:
            raise ValueError("Invalid middleware %s. Must be a function or a class." % middleware)
    # As vLLM with --disable-uvicorn-access-log, as docs/vllm-middleware.md
    # says to run it: the middleware's line replaces the access line, which
    # the preset would count as the same request again.
    uvicorn.run(app, fd=args.fd, log_level="info", access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
