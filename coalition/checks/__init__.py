"""Checks run before anything is written: glyphs, translations, layout."""
