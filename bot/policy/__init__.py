"""Policies as data and deciding with them.

`config` loads and merges the built-in policy (`default.yml`) with a repository's
`.github/draftsmith.yml` (tighten, never loosen); `decide.evaluate` is the pure function from a
change, its code owners and the policy to a Gate; `pathglob` is the one path-rule dialect.
"""
