"""Outbound HTTP to addresses that users name (a URL to ingest, later a webhook): every name resolved
once, every address checked, the connection made to the address that was checked, within a deadline
and a minimum rate, on a bounded pool of threads."""
