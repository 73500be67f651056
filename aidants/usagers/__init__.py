"""Usagers: citizens, whose identity comes only from FranceConnect."""
