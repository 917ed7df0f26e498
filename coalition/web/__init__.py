"""The review service (`coalition serve`): organisations' private review pages and the coordinator's dashboard."""
