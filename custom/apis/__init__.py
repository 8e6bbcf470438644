"""Using a trained model from Python: inference on images, folders and videos with overlays and JSON."""
