"""Coalition letters: a document-assembly pipeline for joint letters of several organisations.

load → compose → render → bundle: see coalition.pipeline.build.
"""

from .errors import CoalitionError, DataError, Problem

__all__ = ["CoalitionError", "DataError", "Problem"]
