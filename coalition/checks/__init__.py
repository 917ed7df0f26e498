"""Checks of a campaign beyond what loading finds: glyphs, translations, layout."""
