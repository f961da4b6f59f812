"""Limits on what a claim may carry, one definition each: the counter's form, the API's
schemas, the services and the templates (``maxlength``) read them from here."""

from __future__ import annotations

#: A care date may be at most this old (older claims go through the insurer).
MAX_CARE_AGE_DAYS = 365
#: A hospital stay (admission → discharge) lasts at most this many days.
MAX_STAY_DAYS = 365
#: The room of a hospital stay, in characters.
MAX_ROOM_LENGTH = 50
#: A claim's free-text note, in characters.
MAX_NOTES_LENGTH = 2000
