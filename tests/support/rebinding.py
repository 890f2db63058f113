"""DNS rebinding against a real public address, run by tests/net/test_fetch.py inside a network
namespace of its own (``unshare -rn``), so the "public" site at 1.2.3.4 sits on that namespace's
loopback and nothing leaves the machine. An internal site listens on 127.0.0.1 at the same port; the
name's resolver answers 1.2.3.4 the first time and 127.0.0.1 every time after, as a rebinding DNS
server would. Prints, as JSON, what each site was asked, what was fetched and how often the resolver
was asked; then a name that answers 1.2.3.4 and 127.0.0.1 at once, which is refused."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from mediasift.config import Settings
from mediasift.net import fetch
from mediasift.net.errors import Unacceptable

from support.webstub import WebStub

PUBLIC = "1.2.3.4"


def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{PUBLIC}/32", "dev", "lo"], check=True)
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return [PUBLIC] if len(asked) == 1 else ["127.0.0.1"]

    def both(host: str, port: int) -> list[str]:
        return [PUBLIC, "127.0.0.1"]

    with (
        WebStub(PUBLIC, files={"a.txt": b"public"}) as public,
        WebStub("127.0.0.1", public.port, files={"a.txt": b"internal"}) as internal,
        tempfile.TemporaryDirectory() as home,
    ):
        settings = Settings(home=Path(home), url_fetch_private=False, url_fetch_allowed_hosts="")
        target = Path(home) / "a.txt"
        got = fetch.download(public.url("/file/a.txt", host="rebind.example"), settings, target, resolver=rebinding)
        report = {
            "fetched": target.read_text(),
            "url": got.url,
            "resolver_asked": asked,
            "public_asked": [(a.path, a.headers["host"]) for a in public.asked],
        }
        # one answer with both: every address is checked, so none is connected to
        try:
            fetch.download(public.url("/file/a.txt", host="both.example"), settings, target, resolver=both)
        except Unacceptable as refused:
            report["both_refused"] = str(refused)
        report["public_asked_after_both"] = len(public.asked)
        report["internal_asked"] = [a.path for a in internal.asked]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
