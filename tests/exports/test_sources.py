"""What an export says of an asset's sources and messages: no folder of the server."""

from __future__ import annotations

from mediasift.exports.sources import describe_source, file_folders, redact, redact_tree


def test_sources_are_named_without_the_servers_folders() -> None:
    assert describe_source("/srv/drop/2024/clip.mp4") == ("file", "clip.mp4")
    assert describe_source("upload:holiday.jpg") == ("upload", "holiday.jpg")
    assert describe_source("https://media.example/a/b.mp3?x=1") == ("url", "https://media.example/a/b.mp3?x=1")
    assert file_folders(["/srv/drop/clip.mp4", "upload:x.jpg", "https://h/x"]) == ["/srv/drop"]


def test_paths_under_the_roots_are_taken_out_of_messages() -> None:
    roots = ["/data/home", "/data/home/blobs", "/srv/drop/"]
    message = "cannot decode /data/home/blobs/ab/abcd (from /srv/drop/clip.mp4)"
    assert redact(message, roots) == "cannot decode …/ab/abcd (from …/clip.mp4)"
    assert redact("nothing here", ["/", ""]) == "nothing here", "the root folder is no root to hide"
    tree = {"error": message, "lines": [{"text": "/srv/drop"}], "n": 3, "none": None}
    assert redact_tree(tree, roots) == {"error": redact(message, roots), "lines": [{"text": "…"}], "n": 3, "none": None}
