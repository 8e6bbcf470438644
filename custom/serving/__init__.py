"""Serving a detector over HTTP: the API (app.py), what a request brings (uploads.py), the page (page.*)."""
