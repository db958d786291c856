"""Everything said to or read from GitHub: the App's client and transport, the draft PR, check run
and comments it publishes, CODEOWNERS, the policy gate on the PR, and safe Markdown.
"""
