"""Public and legal pages (mentions légales, données personnelles, accessibilité, CGU), help, and CGU acceptance."""
