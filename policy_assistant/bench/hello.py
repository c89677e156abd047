"""The benchmark's ceiling: a hello-world FastAPI app on the same stack (uvicorn, FastAPI, a pydantic request body,
a JSON response), served the way `policy-assistant serve` serves, so the load test shows how much of what this
machine and client can do at all the assistant reaches.

    python -m uvicorn policy_assistant.bench.hello:app --workers 2 --port 7900
"""
from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="hello", docs_url=None, redoc_url=None, openapi_url=None)


class ChatRequest(BaseModel):
    question: str


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@app.post("/api/chat")
async def chat(body: ChatRequest) -> dict:
    return {"answer": "你好", "question": body.question, "status": "answered"}
