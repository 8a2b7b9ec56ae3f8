"""guard: a data-leak prevention proxy for LLM traffic."""

__version__ = "0.1.0"
