"""Steering: what people ask of Draftsmith through GitHub and what it answers.

The typed commands of a delivery (`commands`), the worker's handler of each (`handlers`),
`@draftsmith` mentions, the replies and help text, the trigger label and the per-installation
rate limits.
"""
