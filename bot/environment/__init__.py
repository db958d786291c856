"""The project's own environment: detect its shape (language, package manager, runner), install it
in the sandbox, and keep a prepared environment for the next run on the same manifests.
"""
