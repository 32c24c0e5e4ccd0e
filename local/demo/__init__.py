"""`make demo` (`python -m local.demo`): the story, end to end over HTTP against the local stack.

`story.main` starts the local stack with timings shortened so each scene takes seconds, tells
the scenes in order, stops the stack, and exits 0 only if the story came out right:

1. `multi_emergency`: one technician is alerted for Lift A and Lift B at once and taps
   Entrapment on Lift B; a colleague alerted for Lift B taps Test late.
2. `conversations`: what each phone showed (acknowledgements, who answered first).
3. `escalation`: nobody answers Lift C; the timer reminds the technician and the supervisor,
   whose tap on the reminder stops the escalation.
4. `template_first`: WhatsApp's 24-hour rule: the technician who never wrote gets the
   template, and an interactive message Meta refuses with 131047 is replaced by it.
5. `confirmation`: after an Entrapment, everyone is asked to confirm the service provider was
   called until someone taps YES.
6. `load_shedding`: twenty lifts alarm at once against Woosh's rate limits (SPEC §11).

Shared by the scenes: `client` (the `Demo` client of the API, the stand-in and the events
queue), `messages` (reading what the stand-in recorded), `narration` (printing and checks),
`settings` (the people and the shortened timings).
"""

from local.demo.story import main

__all__ = ["main"]
