"""What Draftsmith answers people who steer it: refusals and rate-limit notices (the help
text is made from the verb table, `bot/steering/verbs.py`)."""

NOT_A_WRITER = (
    "Sorry @{login}, only people with write access to this repository can steer Draftsmith. "
    "Nothing was changed."
)
RATE_LIMITED_COMMANDS = (
    "Draftsmith accepts at most {limit} commands an hour on this installation, and that many "
    "arrived. This command and further ones in the next hour are ignored, without more replies."
)
RATE_LIMITED_SENDER = (
    "@{login}, Draftsmith accepts at most {limit} commands an hour from one person, and that "
    "many arrived. Further ones in the next hour are ignored, without more replies."
)
RATE_LIMITED_RUN = (
    "Draftsmith started its limit of {limit} runs this hour on this installation, so the "
    "label started nothing. Remove and add the label again later."
)
RATE_LIMITED_MARKER = "<!-- draftsmith:rate-limited -->"
