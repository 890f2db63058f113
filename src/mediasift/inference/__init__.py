"""The inference layer: the one door to the models (:class:`mediasift.inference.door.Inference`).

Every model is declared from the settings (:mod:`catalog`); every call goes down one stack: result
cache (:mod:`cache`), micro-batcher (:mod:`batcher`), counted and priced call (:mod:`stats`). Cheap-first
routing (:mod:`speech`, :mod:`language`) and fallback with circuit breakers (:mod:`fallback`, :mod:`ocr`)
call their tiers through that stack. Runtimes are loaded once per process and unloaded when idle
(:mod:`registry`)."""
