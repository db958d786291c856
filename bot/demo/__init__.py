"""`draftsmith demo`: the whole pipeline on a bundled repository, with recorded model answers.

No key, no App: a small Python project (`project.yml`) becomes a git repository in a temporary
folder, a change request goes through every phase on the real sandbox and the real environment
setup, and its tests fail on the base and pass with the change. The model is a recording
(`answers.yml`, served by `recorded.py` on a loopback port in the Chat Completions wire format):
recorded answers, not a live model, as the screen and the evidence both say.
"""
