"""The client side of bench.provider: one service and its signed-in browsers, against either provider.

The same code speaks to ours and to oidc-provider: a new connection per request, the flow's three steps, the
timing of complete flows and of /token alone. Every loop is bounded in count and time.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.signin import HOST, REQUEST_TIMEOUT, percentile

REDIRECT_URI = "https://service.example/callback"
SCOPE = "openid profile email birth"


class FlowError(RuntimeError):
    """A step answered otherwise than a working provider would."""


@dataclass
class Reply:
    status: int
    body: str
    location: str
    cookies: dict[str, str]  # name -> value set by the reply ("" when it deletes the cookie)


def call(port: int, method: str, path: str, form: dict[str, str] | None = None, cookie: str = "",
         bearer: str = "") -> Reply:
    """One HTTP request on a new connection, as for both servers alike."""
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    headers = {"Host": f"{HOST}:{port}"}
    if cookie:
        headers["Cookie"] = cookie
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    body = urlencode(form) if form is not None else None
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        found: dict[str, str] = {}
        for line in response.msg.get_all("Set-Cookie") or []:
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            gone = "max-age=0" in attributes.lower() or "1970" in attributes
            found[name] = "" if gone else value
        return Reply(response.status, text, response.getheader("Location") or "", found)
    finally:
        connection.close()


class Jar(dict[str, str]):
    """Cookies of one browser (paths ignored: each server is on its own port)."""

    def keep(self, reply: Reply) -> Reply:
        for name, value in reply.cookies.items():
            if value:
                self[name] = value
            else:
                self.pop(name, None)
        return reply

    def header(self, prefix: str = "") -> str:
        return "; ".join(f"{k}={v}" for k, v in self.items() if k.startswith(prefix))


@dataclass
class Seat:
    """One client thread's signed-in browser: its cookie and, on our side, the choices it may post."""

    cookie: str = ""
    choices: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Side:
    """One provider under test, as a service sees it."""

    name: str
    port: int
    client_id: str
    secret: str
    seats: list[Seat] = field(default_factory=list)
    server_pid: int = 0  # the server's process (gunicorn's master, or node), for its CPU time

    def params(self, **extra: str) -> str:
        return urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT_URI,
                          "scope": SCOPE, "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
                          "acr_values": "eidas1", **extra})

    def authorize(self, seat: Seat, n: int) -> str:
        """The authorization with the session: ours needs the aidant's choice, theirs only the cookie."""
        query = self.params()
        if seat.choices:
            reply = call(self.port, "POST", f"/authorize?{query}", seat.choices[n % len(seat.choices)], seat.cookie)
        else:
            reply = call(self.port, "GET", f"/authorize?{query}", cookie=seat.cookie)
        return code_from(reply, parse_qs(query)["state"][0])

    def token(self, code: str) -> dict[str, Any]:
        reply = call(self.port, "POST", "/token", {
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": self.client_id, "client_secret": self.secret,
        })
        if reply.status != 200:
            raise FlowError(f"/token: HTTP {reply.status} {reply.body[:200]}")
        found: dict[str, Any] = json.loads(reply.body)
        return found

    def userinfo(self, access_token: str) -> dict[str, Any]:
        reply = call(self.port, "GET", "/userinfo", bearer=access_token)
        if reply.status != 200:
            raise FlowError(f"/userinfo: HTTP {reply.status} {reply.body[:200]}")
        found: dict[str, Any] = json.loads(reply.body)
        return found


def code_from(reply: Reply, state: str) -> str:
    """The code of an authorization response sent to the client's redirect URI."""
    if reply.status not in (302, 303) or not reply.location.startswith(REDIRECT_URI + "?"):
        raise FlowError(f"/authorize: HTTP {reply.status} to {reply.location[:120]!r} {reply.body[:200]}")
    found = {k: v[0] for k, v in parse_qs(urlsplit(reply.location).query).items()}
    if "code" not in found or found.get("state") != state:
        raise FlowError(f"/authorize: no code or wrong state in {reply.location[:200]}")
    return found["code"]



# --- timing ---------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0
    client_cpu: float = 0.0  # CPU seconds the bench process itself spent meanwhile
    server_cpu: float = 0.0  # CPU seconds of the server's processes (PostgreSQL not counted)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: Outcome) -> None:
        self.latencies += other.latencies
        for name, values in other.steps.items():
            self.steps.setdefault(name, []).extend(values)
        self.errors += other.errors[:5]

    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def ms(self, fraction: float, name: str = "") -> float:
        values = self.steps.get(name, []) if name else self.latencies
        return percentile(values, fraction) * 1000 if values else float("nan")


def timed(outcome: Outcome, name: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = work()
    outcome.steps.setdefault(name, []).append(time.perf_counter() - started)
    return result


def one_flow(side: Side, seat: Seat, n: int, outcome: Outcome) -> dict[str, Any]:
    """Authorization with the session, token, userinfo: the flow a service causes."""
    started = time.perf_counter()
    code = timed(outcome, "authorize", lambda: side.authorize(seat, n))
    tokens = timed(outcome, "token", lambda: side.token(code))
    info: dict[str, Any] = timed(outcome, "userinfo", lambda: side.userinfo(tokens["access_token"]))
    outcome.latencies.append(time.perf_counter() - started)
    return {"id_token": tokens["id_token"], "userinfo": info}


def quotas(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_flows(side: Side, total: int, deadline: float) -> Outcome:
    """Complete flows from one thread per seat, ``total`` in all, until ``deadline`` at the latest."""
    outcome, lock = Outcome(), threading.Lock()

    def client(seat: Seat, quota: int) -> None:
        local = Outcome()
        for n in range(quota):
            if time.monotonic() > deadline:
                local.errors.append("time limit reached")
                break
            try:
                one_flow(side, seat, n, local)
            except (FlowError, OSError, KeyError, ValueError) as error:
                local.errors.append(str(error)[:300])
        with lock:
            outcome.merge(local)

    started, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=client, args=(seat, quota))
               for seat, quota in zip(side.seats, quotas(total, len(side.seats)), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.elapsed = time.perf_counter() - started
    outcome.client_cpu = time.process_time() - cpu
    return outcome


def run_tokens(side: Side, total: int, batch: int, deadline: float) -> Outcome:
    """/token alone: in rounds, each thread makes up to ``batch`` codes (untimed), then all redeem them (timed)."""
    outcome, lock = Outcome(), threading.Lock()
    mine = quotas(total, len(side.seats))
    rounds = -(-max(mine) // batch)
    barrier = threading.Barrier(len(side.seats), timeout=120)
    marks: list[float] = []

    def client(seat: Seat, quota: int) -> None:
        local = Outcome()
        try:
            for r in range(rounds):
                wanted = 0 if time.monotonic() > deadline else min(batch, quota - r * batch)
                codes = [side.authorize(seat, r * batch + n) for n in range(max(0, wanted))]
                if barrier.wait() == 0:
                    marks.append(time.perf_counter())
                for code in codes:
                    started = time.perf_counter()
                    side.token(code)
                    local.latencies.append(time.perf_counter() - started)
                if barrier.wait() == 0:
                    marks.append(time.perf_counter())
        except (FlowError, OSError, KeyError, ValueError, threading.BrokenBarrierError) as error:
            local.errors.append(str(error)[:300] or type(error).__name__)
            barrier.abort()
        with lock:
            outcome.merge(local)

    threads = [threading.Thread(target=client, args=pair) for pair in zip(side.seats, mine, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.elapsed = sum(end - start for start, end in zip(marks[::2], marks[1::2], strict=False))
    return outcome


def check(side: Side) -> str:
    """One untimed flow, read as a service would (signatures are not verified here: the tests do that)."""
    found = one_flow(side, side.seats[0], 0, Outcome())
    head, body = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                  for part in found["id_token"].split(".")[:2])
    info = found["userinfo"]
    problems = [what for what, ok in [
        ("alg", head.get("alg") == "ES256"), ("aud", body.get("aud") == side.client_id),
        ("iss", body.get("iss") == f"http://{HOST}:{side.port}"), ("sub", body.get("sub") == info.get("sub")),
        ("acr", body.get("acr") == "eidas1"), ("exp", body.get("exp", 0) - body.get("iat", 0) == 60),
        ("pairwise", not str(info.get("sub", "")).startswith(("fc-bench", "usager-"))),
        ("claims", str(info.get("family_name", "")).startswith("DUBOIS") and info.get("birthcountry") == "99100"),
    ] if not ok]
    if problems:
        raise SystemExit(f"{side.name}: the flow does not give what is expected ({', '.join(problems)}): {found}")
    return f"ES256 ID token, pairwise sub, {len(info)} userinfo claims"
