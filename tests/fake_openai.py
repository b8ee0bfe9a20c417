"""A small OpenAI-compatible HTTP server for tests: the real `openai` SDK talks to it over HTTP.

It stands in for an external service (OpenAI, vLLM, Ollama...), not for any of the project's code. It
serves `POST /v1/chat/completions`, records every request it receives so that tests can assert what was
sent, and answers however the test scripts it to: a verdict, a delay, an HTTP error, a refusal, a
truncated answer, content that is not JSON, or an HTTP body that is not even JSON.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
# The usage every completion reports, so tests can assert it was recorded.
PROMPT_TOKENS = 321
COMPLETION_TOKENS = 42

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    429: "rate_limit_exceeded",
    500: "server_error",
}


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    raw_body: str
    body: dict | None  # None when the raw body was not JSON


@dataclass(frozen=True)
class Message:
    """The assistant's side of a completion; the server wraps it in a full response object."""

    content: str | None
    finish_reason: str = "stop"
    refusal: str | None = None


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a completion built around `message`, or these exact bytes; after a delay."""

    message: Message | None = None
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay_seconds: float = 0.0


@dataclass
class FakeOpenAI:
    """The server, started on a free port of 127.0.0.1; `url` is its origin (no `/v1`)."""

    host: str = "127.0.0.1"
    requests: list[RecordedRequest] = field(default_factory=list)
    # Nothing scripted: answer like a confused model, so a test that forgot to script the server sees a
    # fallback to the policy rather than an approval.
    _reply: Reply = field(default_factory=lambda: Reply(Message("(no answer scripted for this test)")))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (the stdlib's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", errors="replace")
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = None
                headers = {name.lower(): value for name, value in self.headers.items()}
                fake._record(RecordedRequest(self.path, headers, raw, body))
                if self.path != CHAT_COMPLETIONS_PATH:
                    reply = error_reply(404, f"Unknown path {self.path}")
                else:
                    with fake._lock:
                        reply = fake._reply
                if reply.delay_seconds and fake._stopping.wait(reply.delay_seconds):
                    return  # the server is stopping: give up on this slow answer
                payload = completion_body(model_of(body), reply.message) if reply.message else reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test): nothing to answer

            def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: `shutdown()` waits for one, at the end of every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what it received ----------------------------------------------------------------------------

    def _record(self, recorded: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(recorded)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == CHAT_COMPLETIONS_PATH]

    # -- how it answers (each method replaces the previous script) ----------------------------------

    def _script(self, reply: Reply) -> None:
        with self._lock:
            self._reply = reply

    def answer_verdict(self, answer: dict, *, delay_seconds: float = 0.0) -> None:
        """Answer with this JSON object as the assistant's message content, finish_reason "stop"."""
        self._script(Reply(Message(json.dumps(answer)), delay_seconds=delay_seconds))

    def answer_content(self, content: str | None, *, finish_reason: str = "stop", refusal: str | None = None) -> None:
        """Answer a well-formed completion whose message content is exactly this text."""
        self._script(Reply(Message(content, finish_reason, refusal)))

    def answer_refusal(self, text: str = "I'm sorry, I can't help with that.") -> None:
        self.answer_content(None, refusal=text)

    def answer_truncated(self, content: str) -> None:
        """A completion cut off by the token limit: finish_reason "length" and partial content."""
        self.answer_content(content, finish_reason="length")

    def answer_status(self, status: int, message: str = "scripted failure") -> None:
        self._script(error_reply(status, message))

    def answer_raw(self, body: bytes, *, status: int = 200, content_type: str = "application/json") -> None:
        """Answer exactly these bytes: for protocol-level garbage that no real SDK object can hold."""
        self._script(Reply(None, status=status, body=body, content_type=content_type))

    def delay(self, seconds: float, answer: dict) -> None:
        """Answer `answer`, but only after `seconds`: longer than the client's timeout, it never arrives."""
        self.answer_verdict(answer, delay_seconds=seconds)


def model_of(body: dict | None) -> str:
    return (body or {}).get("model") or "unknown-model"


def completion_body(model: str, message: Message) -> bytes:
    """A valid Chat Completions response object, shaped as the real API shapes it."""
    completion_tokens = 0 if message.content is None else COMPLETION_TOKENS
    payload = {
        "id": "chatcmpl-fake-0001",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": message.content, "refusal": message.refusal},
                "logprobs": None,
                "finish_reason": message.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": completion_tokens,
            "total_tokens": PROMPT_TOKENS + completion_tokens,
        },
        "system_fingerprint": "fp_fake",
    }
    return json.dumps(payload).encode()


def error_reply(status: int, message: str) -> Reply:
    """An error response in the API's shape, so the SDK raises its matching APIStatusError."""
    payload = {"error": {"message": message, "type": ERROR_TYPES.get(status, "api_error"), "param": None, "code": None}}
    return Reply(None, status=status, body=json.dumps(payload).encode())
