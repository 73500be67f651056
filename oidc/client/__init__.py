"""FranceConnect's relying party: identifying a usager at an aidant's desk (authorization code flow, authlib)."""
