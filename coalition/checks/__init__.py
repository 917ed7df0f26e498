"""Checks of a composed campaign that find, before rendering, what would go wrong in the PDFs."""
