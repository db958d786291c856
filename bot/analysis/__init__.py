"""Evidence for the reviewer: differential static analysis and coverage of the change.

`differential` runs the project's own analysers (`tools`) on the base and on the change and keeps
the findings the change introduces (`findings`); `coverage` says which changed lines and changed
functions the test run executed and which tests did; `rules` turns that evidence into the issues
that decide the verdict before the model is asked; `render` writes it for the prompt and the PR.
"""
