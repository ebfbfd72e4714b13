"""Cut the decoder loops Whisper falls into when its audio window is shorter than 30 s.

Whisper was trained on 30-second windows. Encoding only the audio a turn has (see
``infra/speech/stt.py``) is 5–10× cheaper, but after the last word the decoder sometimes starts
the utterance again ("Yes, that's right. Yes, that's") or repeats one word ("yes yes yes …").
Both are recognisable from the words alone, and both are removed here:

- ``collapse_runs``: a word or a phrase of up to four words said three or more times back to
  back keeps its first occurrence ("bye bye bye" → "bye"; "no, no" is left alone; digits are
  never collapsed: "4 4 4 4" is a PIN);
- ``cut_restart``: when the text ends by saying again, from some point, words it already said
  ("… Priya Raman. My name is Priya Raman. My"), the repeat is dropped. The decoder restarts at
  a sentence, so only a repeat that follows the end of a sentence counts ("No, not 4 7 5, it's
  4 7" is a correction and stays). The loop is usually cut off mid-word by the token budget, so
  the last word may be the start of the word it repeats.

Pure functions on words, compared without case or punctuation.
"""

from __future__ import annotations

import re

MAX_PHRASE = 4
RUN = 3  # repeats back to back that make a loop


def _key(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def collapse_runs(words: list[str]) -> list[str]:
    out = list(words)
    for n in range(1, MAX_PHRASE + 1):
        i = 0
        while i + RUN * n <= len(out):
            keys = [_key(w) for w in out[i : i + RUN * n]]
            phrase = keys[:n]
            if not any(k.isdigit() for k in phrase) and all(
                keys[r * n : (r + 1) * n] == phrase for r in range(1, RUN)
            ):
                j = i + n
                while [_key(w) for w in out[j : j + n]] == phrase:
                    del out[j : j + n]
            i += 1
    return out


MIN_RESTART = 2  # words in a repeat worth cutting


def _said_before(tail: list[str], before: list[str]) -> bool:
    n = len(tail)
    for i in range(len(before) - n + 1):
        if before[i : i + n - 1] == tail[:-1] and before[i + n - 1].startswith(tail[-1]):
            return True
    return False


def cut_restart(words: list[str]) -> list[str]:
    keys = [_key(w) for w in words]
    for start in range(1, len(words) - MIN_RESTART + 1):
        after_sentence = words[start - 1].endswith((".", "?", "!"))
        if after_sentence and keys[-1] and _said_before(keys[start:], keys[:start]):
            return cut_restart(words[:start])  # a loop that went round twice
    return words


def clean(text: str) -> str:
    """``text`` without a trailing decoder loop."""
    return " ".join(cut_restart(collapse_runs(text.split())))
