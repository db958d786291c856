"""What Draftsmith answers people who steer it: help, refusals and rate-limit notices."""

HELP_TEXT = (
    "Draftsmith commands (people with write access only):\n"
    "- `/draftsmith revise <what to change>`: a new revision on the same branch\n"
    "- `/draftsmith retry`: run a stopped or failed run again from where it stopped\n"
    "- `/draftsmith stop`: stop the run\n"
    "- `/draftsmith approve-plan`: let a run waiting on its plan write code"
)
NOT_A_WRITER = (
    "Sorry @{login}, only people with write access to this repository can steer Draftsmith. "
    "Nothing was changed."
)
RATE_LIMITED_COMMANDS = (
    "Draftsmith accepts at most {limit} commands an hour on this installation, and that many "
    "arrived. This command and further ones in the next hour are ignored, without more replies."
)
RATE_LIMITED_RUN = (
    "Draftsmith started its limit of {limit} runs this hour on this installation, so the "
    "label started nothing. Remove and add the label again later."
)
RATE_LIMITED_MARKER = "<!-- draftsmith:rate-limited -->"
