"""The every-language fixture project."""
