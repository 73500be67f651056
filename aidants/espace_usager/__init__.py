"""The espace usager: the usager signs in with FranceConnect, sees their mandates and uses, revokes, is told."""
