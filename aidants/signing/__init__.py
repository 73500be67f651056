"""The service's signing keys (ES256 / RS256): stored encrypted, published before use, retired after use."""
