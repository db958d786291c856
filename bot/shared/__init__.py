"""What every room uses and nothing else: the settings (`config`), the pydantic contracts between
stages (`contracts`), the one exception hierarchy (`errors`) and the one way to shorten a log
(`condense`). These modules import nothing of ours outside this package, so any room may use them.
"""
