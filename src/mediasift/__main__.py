"""``python -m mediasift``: the same command line as ``mediasift``."""

from mediasift.cli import app

app(prog_name="mediasift")
