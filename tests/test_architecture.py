"""The layering of docs/architecture.md, checked on the source: which layer may import which, SQL only in
db/, the environment read only at the entry points, and models reached only through the inference layer.

The checks read every module under src/mediasift with ``ast`` (nothing is imported but the model
modules whose names the operators, search and ingest take, to see that those names are data)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import mediasift

SRC = Path(mediasift.__file__).parent
# telemetry: the ids on log lines and the trace spans every layer may open (the OpenTelemetry API alone;
# the SDK is set up in obs/tracing.py), as cross-cutting as errors.
FOUNDATIONS = frozenset(
    {"config", "mediatype", "errors", "records", "access", "cursors", "telemetry", "since", "language_codes"}
)
ENTRY_POINTS = frozenset({"cli", "api"})
EVERYTHING = frozenset({"db", "blobs", "media", "models", "inference", "jobs", "ingest", "pipeline", "operators",
                        "search", "obs", "exports", "net", "events", "service"})  # fmt: skip
# What each layer may import besides the foundations and itself. An entry "package.module" allows that
# module only. "models" for operators, search and ingest means the data the models return (see below).
ALLOWED: dict[str, frozenset[str]] = {
    "config": frozenset(),
    "mediatype": frozenset(),
    "errors": frozenset(),
    "records": frozenset(),
    "access": frozenset(),
    "cursors": frozenset(),
    "telemetry": frozenset(),
    "since": frozenset(),
    "language_codes": frozenset(),
    "db": frozenset(),
    "blobs": frozenset(),
    "media": frozenset(),
    "models": frozenset(),
    "net": frozenset(),  # outbound HTTP to URLs users give: below everything that may send it (ingest, webhooks)
    "inference": frozenset({"models", "db", "media", "jobs.breaker"}),
    "jobs": frozenset({"db"}),
    # events out: the relay (outbox rows to the broker's topic, Kafka, webhook jobs) and webhook delivery
    "events": frozenset({"db", "jobs", "net"}),
    "ingest": frozenset({"db", "blobs", "media", "inference"}),
    "pipeline": frozenset({"db", "blobs", "jobs", "inference", "media"}),
    "operators": frozenset({"pipeline", "inference", "media", "models"}),
    "search": frozenset({"db", "inference", "models"}),
    "obs": frozenset({"db", "inference"}),
    "exports": frozenset(),  # pure formatting: stored segments (records) in, text out
    "service": EVERYTHING,
    "api": EVERYTHING,
    "cli": EVERYTHING | {"api"},
    "__main__": frozenset({"cli"}),  # python -m mediasift: the command line
}
DATA_ONLY_MODELS = frozenset({"operators", "search", "ingest"})
SERVICE = frozenset(
    {"service", "service_models", "service_errors", "service_exports", "service_people", "keyring"}
)  # the Python API, its typed results, its keys


def layer_of(top: str) -> str:
    """The layer of a top-level module or package of mediasift."""
    return "service" if top in SERVICE else top


DRIVERS = ("psycopg", "pgvector", "sqlalchemy", "alembic")
# SQL as this code base writes it: keywords in capitals.
SQL = re.compile(
    r"^\s*(SELECT\s|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE |ALTER |DROP |WITH \w+ AS|LISTEN |NOTIFY )"
)


@dataclass(frozen=True)
class Module:
    path: Path
    name: str  # dotted, e.g. mediasift.inference.door
    tree: ast.Module

    @property
    def layer(self) -> str:
        return layer_of(self.name.split(".")[1])


@dataclass(frozen=True)
class Imported:
    target: str  # dotted module
    names: tuple[str, ...]  # for "from X import a, b"
    line: int

    def places(self) -> list[str]:
        """What it reaches within mediasift, as "layer" or "layer.module": ``from mediasift.jobs import
        breaker`` reaches "jobs.breaker", ``from mediasift.jobs.breaker import X`` too."""
        parts = self.target.split(".")[1:]
        submodules = [name for name in self.names if is_module(f"{self.target}.{name}")]
        if len(parts) == 1 and submodules and len(submodules) == len(self.names):
            return [f"{parts[0]}.{name}" for name in submodules]
        return [".".join(parts[:2])]


def modules(root: Path = SRC) -> Iterator[Module]:
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts or (path.parent == root and path.name == "__init__.py"):
            continue  # alembic's own files; the package's version string
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield Module(path, name, ast.parse(path.read_text(), str(path)))


def imports(module: Module) -> Iterator[Imported]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Imported(alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield Imported(node.module, tuple(alias.name for alias in node.names), node.lineno)


def is_module(dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[0] != "mediasift":
        return False
    place = SRC.joinpath(*parts[1:])
    return place.with_suffix(".py").is_file() or (place / "__init__.py").is_file()


def layer_violations(module: Module) -> list[str]:
    """Imports of ``module`` that its layer may not make."""
    layer = module.layer
    if layer not in ALLOWED:
        return [f"{module.name}: no layer rule for {layer!r}; add it to docs/architecture.md and ALLOWED"]
    allowed = ALLOWED[layer] | FOUNDATIONS | {layer}
    out = []
    for imported in imports(module):
        if imported.target.split(".")[0] != "mediasift" or imported.target == "mediasift":
            continue
        places = imported.places()
        if not all(place in allowed or layer_of(place.split(".")[0]) in allowed for place in places):
            out.append(f"{module.name}:{imported.line} ({layer}) imports {imported.target}")
        elif places[0].split(".")[0] == "models" and layer in DATA_ONLY_MODELS:
            if not imported.names or places[0] != ".".join(imported.target.split(".")[1:3]):
                out.append(f"{module.name}:{imported.line} ({layer}) imports the module {imported.target}")
            out += [
                f"{module.name}:{imported.line} ({layer}) takes {name} from {imported.target}, which is not data"
                for name in imported.names
                if not is_data(imported.target, name)
            ]
    return out


def is_data(module: str, name: str) -> bool:
    """Whether ``module.name`` is something a model returns or a constant, not a runtime or a loader."""
    if name == "ModelRef" or name.isupper():
        return True
    value = getattr(importlib.import_module(module), name)
    return dataclasses.is_dataclass(value) or not callable(value)


def sql_violations(module: Module) -> list[str]:
    if module.layer == "db":
        return []
    out = [f"{module.name}:{i.line} imports the database driver {i.target}"
           for i in imports(module) if i.target.split(".")[0] in DRIVERS]  # fmt: skip
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            out.append(f"{module.name}:{node.lineno} holds SQL: {node.value.strip()[:60]!r}")
    return out


# The client libraries of outside things, and where each may be imported (docs/architecture.md's doors).
CLIENTS: dict[str, tuple[str, ...]] = {
    "redis": ("mediasift.jobs.",),
    "nats": ("mediasift.jobs.",),  # the broker, and its events topic (jobs/nats_topic.py)
    "aiokafka": ("mediasift.events.kafka",),  # Kafka is a sink of events only, not a broker of jobs
    "boto3": ("mediasift.blobs.",),
    "botocore": ("mediasift.blobs.",),
    # PyAV: decoding in media/, probing in ingest/; its error types where failures are told apart
    "av": ("mediasift.media.", "mediasift.ingest.", "mediasift.pipeline.failures", "mediasift.operators.ocr"),
}


def client_violations(module: Module) -> list[str]:
    out = []
    for imported in imports(module):
        doors = CLIENTS.get(imported.target.split(".")[0])
        if doors and not any(module.name.startswith(d) if d.endswith(".") else module.name == d for d in doors):
            out.append(f"{module.name}:{imported.line} imports {imported.target}, which only {', '.join(doors)} may")
    return out


def unpooled_violations(module: Module) -> list[str]:
    """Connections of their own (``db.connect()``) outside db/: each costs a connection set-up (~5 ms)
    and a type lookup, where ``db.transaction()`` lends a pooled one. The API's key check per request
    and a worker's reads per job paid it."""
    if module.layer == "db":
        return []
    return [
        f"{module.name}:{node.lineno} calls {ast.unparse(node.func)}() (use the pooled db.transaction())"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect"
        and not node.args and not node.keywords and ast.unparse(node.func.value).split(".")[-1] == "db"
    ]  # fmt: skip


def environment_violations(module: Module) -> list[str]:
    """Reads of the environment below the entry points: os.environ, os.getenv, and settings read from
    it (``load_settings()``, or ``Settings()`` outside config.py)."""
    if module.layer in ENTRY_POINTS:
        return []
    return [f"{module.name}:{node.lineno} {what}" for node in ast.walk(module.tree) if (what := _reads(node, module))]


def _reads(node: ast.AST, module: Module) -> str:
    """What ``node`` reads of the environment ("" for nothing)."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
        return f"reads os.{node.attr}" if node.attr in ("environ", "environb", "getenv", "putenv") else ""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        reader = node.func.id == "load_settings" or (node.func.id == "Settings" and module.layer != "config")
        return f"calls {node.func.id}()" if reader else ""
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        return "imports os.environ" if any(alias.name in ("environ", "getenv") for alias in node.names) else ""
    return ""


def test_every_layer_imports_only_what_it_may() -> None:
    found = [v for module in modules() for v in layer_violations(module)]
    assert not found, "\n".join(found)


def test_every_import_of_mediasift_names_a_module_that_exists() -> None:
    """mypy is told to ignore imports it cannot find (the model libraries ship no types), so a stale
    import of a moved module would only show when the code runs."""
    found = [
        f"{module.name}:{imported.line} imports {imported.target}, which does not exist"
        for module in modules()
        for imported in imports(module)
        if imported.target.startswith("mediasift.") and not is_module(imported.target)
    ]
    assert not found, "\n".join(found)


def test_the_scripts_import_what_exists() -> None:
    """The benchmarks, evaluations and scripts run by hand, not in the suite: each name they take from
    mediasift must still be there."""
    root = SRC.parents[1]
    missing = []
    for path in sorted((*root.glob("bench/*.py"), *root.glob("eval/*.py"), *root.glob("scripts/*.py"))):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mediasift"):
                module = importlib.import_module(node.module)
                missing += [f"{path.relative_to(root)}:{node.lineno} {node.module}.{alias.name}"
                            for alias in node.names if not hasattr(module, alias.name) and not is_module(
                                f"{node.module}.{alias.name}")]  # fmt: skip
    assert not missing, "\n".join(missing)


def test_no_sql_outside_db() -> None:
    found = [v for module in modules() for v in sql_violations(module)]
    assert not found, "\n".join(found)


def test_outside_services_are_reached_only_through_their_doors() -> None:
    found = [v for module in modules() for v in client_violations(module)]
    assert not found, "\n".join(found)


def test_short_reads_use_the_pool() -> None:
    found = [v for module in modules() for v in unpooled_violations(module)]
    assert not found, "\n".join(found)


def test_the_pool_check_catches_a_connection_of_its_own() -> None:
    source = "def f(self, db):\n    with self.db.connect() as c: pass\n    with db.connect() as c: pass\n"
    assert len(unpooled_violations(_fake("mediasift.service_fake", source))) == 2
    assert unpooled_violations(_fake("mediasift.service_fake", "def f(self):\n    self.db.transaction()\n")) == []
    assert unpooled_violations(_fake("mediasift.db.fake", source)) == []


def test_the_client_check_catches_a_client_outside_its_door() -> None:
    assert len(client_violations(_fake("mediasift.search.fake", "import redis\nfrom boto3 import client\n"))) == 2
    assert len(client_violations(_fake("mediasift.operators.ocr_timing", "import av\n"))) == 1
    assert client_violations(_fake("mediasift.jobs.fake", "import redis.asyncio\nimport nats\n")) == []
    assert client_violations(_fake("mediasift.media.fake", "from av.video.stream import VideoStream\n")) == []


def test_nothing_below_the_entry_points_reads_the_environment() -> None:
    found = [v for module in modules() for v in environment_violations(module)]
    assert not found, "\n".join(found)


# Imports each checker must refuse (the module, its source, what the complaint says) ...
FORBIDDEN = [
    ("mediasift.models.fake", "from mediasift.inference import stats\n", "(models) imports mediasift.inference"),
    ("mediasift.jobs.fake", "import mediasift.media.audio\n", "(jobs) imports mediasift.media.audio"),
    ("mediasift.inference.fake", "from mediasift.jobs.runtime import Worker\n", "imports mediasift.jobs.runtime"),
    ("mediasift.operators.fake", "from mediasift.models.text_embedder import TextEmbedder\n", "not data"),
    ("mediasift.search.fake", "from mediasift.models.ocr import load\n", "not data"),
]
# ... and imports it must let through.
ALLOWED_IMPORTS = [
    ("mediasift.inference.fake", "from mediasift.jobs.breaker import CircuitBreakers\n"),
    ("mediasift.operators.fake", "from mediasift.models.ocr import OcrLine\n"),
    ("mediasift.operators.fake", "from mediasift.models.whisper import MAX_WINDOW_S\n"),
    ("mediasift.models.fake", "from mediasift.records import ModelRef\n"),
]


def _fake(name: str, source: str) -> Module:
    return Module(SRC / "fake.py", name, ast.parse(source))


@pytest.mark.parametrize(("name", "source", "complaint"), FORBIDDEN)
def test_the_layer_check_catches_an_import_a_layer_may_not_make(name: str, source: str, complaint: str) -> None:
    found = layer_violations(_fake(name, source))
    assert len(found) == 1 and complaint in found[0], found


@pytest.mark.parametrize(("name", "source"), ALLOWED_IMPORTS)
def test_the_layer_check_lets_allowed_imports_through(name: str, source: str) -> None:
    assert layer_violations(_fake(name, source)) == []


def test_the_sql_and_environment_checks_catch_their_cases() -> None:
    sql = _fake("mediasift.inference.fake", 'import psycopg\nQ = "SELECT 1 FROM assets"\n')
    assert len(sql_violations(sql)) == 2
    assert sql_violations(_fake("mediasift.db.fake", 'Q = "SELECT 1"\n')) == []
    assert sql_violations(_fake("mediasift.api.fake", 'HELP = "Select a file to upload"\n')) == []
    env = _fake("mediasift.models.fake", "import os\nx = os.environ.get('A')\ns = Settings()\nt = load_settings()\n")
    assert len(environment_violations(env)) == 3
    assert environment_violations(_fake("mediasift.cli", "import os\nx = os.environ['A']\n")) == []
