"""The identity provider: an aidant hands a service a usager's identity under a valid mandate."""
