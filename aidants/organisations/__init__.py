"""Structures (organisations), their référents and habilitation requests."""
