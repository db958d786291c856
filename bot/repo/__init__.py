"""The repository a run works on: its git working copy and what is read from it.

`workspace` clones, branches, applies edits, commits and diffs; `retrieval` finds the files a
change needs; `instructions` reads the team's own build and review guidance from the base.
"""
