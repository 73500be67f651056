"""Stand-ins for training and local runs only (never enabled in production): a FranceConnect with fictitious
identities (``franceconnect``)."""
