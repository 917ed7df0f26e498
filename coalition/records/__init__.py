"""Records kept beside the pipeline: approvals, private review links, the proof history and the sending ledger."""
