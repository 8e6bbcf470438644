"""Run analysis: log curves, PR curves, per-image error reports and a Markdown run report."""
