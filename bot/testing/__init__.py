"""Running a repository's real suite honestly: per-case results, the base commit and the proof.

`cases` reads each test case's result from the runner's JUnit report, `checkout` puts the base
commit in the workspace (same path, same prepared environment), `proof` decides which new tests
pin the change and which failures were already there, `suite` runs it all for the tester.
"""
