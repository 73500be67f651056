"""Aidants, their sign-in, sessions and TOTP devices (cards and apps)."""
