"""The web edge: HTTP serving of the outputs and the index page."""
