"""Statistics of the service: public figures and a référent's structures."""
