"""Data tools around the core pipeline: check a dataset, generate instructions from raw text, review translations."""
