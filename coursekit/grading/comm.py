"""The grader's comm channel into the student's kernel: install its target, open it, ask, wait.

A request (a grader's "lookup" or "call", :mod:`coursekit.grading.plaindata`) goes
to the kernel as a Jupyter ``comm_msg``; the answer comes back on IOPub. These
functions take the kernel's client `kc` and manager `km`
(:class:`coursekit.grading.execute.TrustedExecute` holds the comm's id).
"""

from __future__ import annotations

import queue
import time
import uuid
from typing import Any

from jupyter_core.utils import ensure_async

from coursekit.grading import plaindata


def kernel_request(message: dict) -> dict:
    """The request for the kernel made of a grader's "lookup" or "call" message (names checked, at most 200)."""
    if message.get("op") == "lookup":
        names = [n for n in message.get("names", []) if isinstance(n, str) and n.isidentifier()][:200]
        return {"op": "lookup", "names": names}
    return {"op": "call", "name": str(message.get("name", "")), "args": message.get("args", []),
            "kwargs": message.get("kwargs", {"__dict__": {}})}


def grader_reply(reply: Any, state: str, call_timeout: Any) -> dict:
    """What the grader gets for a request: the kernel's `reply`, or why there is none (`state`, :func:`send_request`).

    >>> grader_reply(None, "died", 30)["message"][:38]
    'the kernel died during this call (os._'
    """
    if state == "ok":
        return reply if isinstance(reply, dict) else {"status": "failed", "message": "it gave no answer"}
    if state == "interrupted":
        return {"status": "failed", "message": f"did not return within {call_timeout} s (an endless "
                                               "loop?); the grader interrupted it"}
    if state == "died":
        return {"status": "failed", "message": "the kernel died during this call (os._exit, a crash or out "
                                               "of memory?); the grader restarted it"}
    return {"status": "failed", "message": f"did not return within {call_timeout} s and ignored the "
                                           "interrupt; the grader restarted the kernel"}


async def send_request(kc: Any, km: Any, comm_id: str, rid: int, request: dict, timeout: float) -> tuple[Any, str]:
    """Send one request (id `rid`) over comm `comm_id`; return (the kernel's reply or None, what happened).

    What happened is "ok", "interrupted" (over `timeout`, freed by an interrupt), "stuck" (the
    interrupt did not help), "died" or "closed" (the notebook closed the comm: no more answers).
    """
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {**request, "id": rid}}))
    deadline = time.monotonic() + timeout
    interrupted = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if interrupted:
                return None, "stuck"
            await ensure_async(km.interrupt_kernel())
            interrupted, deadline = True, time.monotonic() + 10.0
            continue
        try:
            msg = await ensure_async(kc.get_iopub_msg(timeout=min(remaining, 1.0)))
        except queue.Empty:
            if not await ensure_async(km.is_alive()):
                return None, "died"
            continue
        content = msg.get("content", {})
        if content.get("comm_id") != comm_id:
            continue
        if msg.get("msg_type") == "comm_close":
            return None, "closed"
        data = content.get("data")
        if msg.get("msg_type") == "comm_msg" and isinstance(data, dict) and data.get("id") == rid:
            return data, ("interrupted" if interrupted else "ok")


async def open_comm(kc: Any, km: Any, timeout: float) -> str:
    """Install the grader's comm target in the kernel and open a comm to it; its id, or "" if refused."""
    msg_id = kc.execute(plaindata.kernel_code(), silent=True, store_history=False, allow_stdin=False,
                        stop_on_error=False)
    if not await wait_idle(kc, km, msg_id, timeout):
        return ""
    await drain_shell(kc, msg_id)
    comm_id = uuid.uuid4().hex
    opening = kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": plaindata.COMM_TARGET, "data": {}})
    kc.shell_channel.send(opening)
    closed = []
    ok = await wait_idle(kc, km, opening["header"]["msg_id"], timeout, on_message=lambda m: closed.append(
        m.get("msg_type") == "comm_close" and m.get("content", {}).get("comm_id") == comm_id))
    return comm_id if ok and not any(closed) else ""


async def wait_idle(kc: Any, km: Any, msg_id: str, timeout: float, on_message=None) -> bool:
    """Wait until the kernel has handled message `msg_id` (idle status); False after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = await ensure_async(kc.get_iopub_msg(timeout=min(1.0, deadline - time.monotonic())))
        except queue.Empty:
            if not await ensure_async(km.is_alive()):
                return False
            continue
        if on_message is not None:
            on_message(msg)
        if (msg.get("parent_header", {}).get("msg_id") == msg_id and msg.get("msg_type") == "status"
                and msg.get("content", {}).get("execution_state") == "idle"):
            return True
    return False


async def drain_shell(kc: Any, msg_id: str) -> None:
    """Read shell replies for up to 5 s, until the one to `msg_id`."""
    end = time.monotonic() + 5.0
    while time.monotonic() < end:
        try:
            msg = await ensure_async(kc.get_shell_msg(timeout=max(0.05, end - time.monotonic())))
        except queue.Empty:
            return
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return
