"""mediasift: a self-hostable media intelligence backend."""

__version__ = "0.1.0"
