"""Keep third-party libraries off the network: guard runs air-gapped.

tldextract (used by Presidio's e-mail and URL recognizers) fetches the public suffix list on first
use; in an air-gapped proxy that is a hang and a traceback. Point it at its bundled snapshot.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def configure() -> None:
    """Replace tldextract's module-level extractor with one that never downloads."""
    import tldextract

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = offline
    tldextract.tldextract.TLD_EXTRACTOR = offline


configure()
