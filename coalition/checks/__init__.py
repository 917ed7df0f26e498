"""Checks run before anything is written: glyphs, templates, translations, layout."""
