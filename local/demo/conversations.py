"""Scene 2, the conversations (step 7): what the technician's and the colleague's phones showed
after the multi-emergency: each tap acknowledged, the colleague told who answered first.
"""

from __future__ import annotations

import time
from typing import Any

from local.demo.client import Demo
from local.demo.messages import digits, text_lines
from local.demo.narration import say
from local.demo.settings import COLLEAGUE, TECHNICIAN


def conversations_scene(demo: Demo, since: float) -> None:
    say("\n7. What each phone showed (-> the person, <- the service; acknowledgements and notices come")
    say("   from the follow-up function, never from inside the webhook's answer)")
    tech, colleague = digits(TECHNICIAN), digits(COLLEAGUE)

    def shows(to: str, words: str) -> Any:
        return lambda m: m["to"] == to and m["message_id"] and words in " ".join(text_lines(m))

    demo.wait_for_sent(shows(tech, "Recorded: Entrapment"), timeout=15)
    demo.wait_for_sent(shows(colleague, "answered by Thandi Technician"), timeout=15)
    demo.wait_for_sent(shows(colleague, "Recorded: Test"), timeout=15)
    time.sleep(1.0)  # anything else the taps called for
    counts = {}
    for phone, name in ((TECHNICIAN, "Thandi Technician"), (COLLEAGUE, "Sipho Colleague")):
        lines = demo.show_conversation(phone, name, since)
        counts[name] = sum(1 for _at, line in lines if line.startswith("<-"))
    say(f"  messages sent: {sum(counts.values())} ({', '.join(f'{k}: {v}' for k, v in counts.items())})")
