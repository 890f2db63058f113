"""HEIC and HEIF photos (what phones take), opened by Pillow through libheif (pi-heif: decoding only).

The opener is registered when this module is imported, and everything that opens a picture imports it
(:mod:`mediasift.ingest.sniff`, :mod:`mediasift.media.pictures`). libheif turns and mirrors the picture
as the file says while it decodes, and pi-heif hands over EXIF whose orientation is then 1: a HEIF
picture comes out upright, with nothing left to turn. Only the primary image is read: the thumbnails,
depth maps and auxiliary images a phone stores beside it are left undecoded.
"""

from __future__ import annotations

import pi_heif

HEIF = "HEIF"  # Pillow's format name for HEIC/HEIF files

pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False, decode_threads=1)
