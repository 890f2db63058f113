"""The HTTP API (``mediasift serve``): the CLI's JSON contracts over HTTP, uploads and URLs."""
