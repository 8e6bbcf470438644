"""Run analysis: log and PR curves, error reports, confusion matrices, run reports, leaderboards, FLOPs."""
