"""Events out: the relay that hands the outbox's events to their sinks (the broker's topic, Kafka,
webhook delivery jobs), the webhook delivery job, and the signature receivers verify."""
