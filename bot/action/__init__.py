"""Action mode: `draftsmith action` inside a GitHub Actions workflow (see drive.py)."""
