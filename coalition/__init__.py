"""Coalition letters: a document-assembly pipeline for joint letters of several organisations.

load → compose → render → bundle → send: see coalition.usecases.
"""

from .errors import CoalitionError, DataError, Problem

__all__ = ["CoalitionError", "DataError", "Problem"]
