"""The data engine: drafts for labelling tools from a model, what to label next, and what humans changed."""
