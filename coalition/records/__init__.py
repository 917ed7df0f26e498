"""Records kept beside the pipeline: what was approved, proofed and sent."""
