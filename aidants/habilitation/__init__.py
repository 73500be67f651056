"""Habilitation requests: a structure applies, the staff review."""
