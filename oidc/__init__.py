"""OpenID Connect: the FranceConnect client and the identity provider."""
