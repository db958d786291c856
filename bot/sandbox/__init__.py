"""Where generated code runs: bubblewrap or Docker, no network but the package registries' egress
filter, no secrets, limits on time, memory and processes; and the runners' reports read back out.
"""
