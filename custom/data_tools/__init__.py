"""Preparing and checking data: dataset downloads, synthetic demo data, COCO export, validation, browsing."""
