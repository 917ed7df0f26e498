"""Records kept beside the pipeline: approvals, proof history, the sending ledger."""
