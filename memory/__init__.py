"""Memento's case memory: the Chroma-backed case bank and its case-selection policies (to come)."""
