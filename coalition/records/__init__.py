"""Records kept beside the pipeline: approvals, private review links (and, elsewhere, proofs and the ledger)."""
