"""The stages that think: planner, coder (and its edit-run loop), tester, reviewer and deployer.

Each turns a typed contract (`bot.shared.contracts`) into the next through the `Model` port; none
touches GitHub, the store or the sandbox except through what the run core hands it.
"""
