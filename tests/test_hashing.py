"""The two content hashes keep the values already stored: run tags and request-cache keys."""

from imitate.hashing import short_hash, stable_hash

# Non-ASCII on purpose: conf/reference/chatgpt.yaml's source text has a "§", and the two hashes
# escape it differently (see imitate/hashing.py).
CONTENT = {"name": "chatgpt", "source": "§4.1", "n": [1, 2.5]}


def test_short_hash_matches_the_config_hashes_already_tagged_on_runs():
    assert short_hash(CONTENT) == "87850f51e5bcfbe4"
    assert short_hash(dict(reversed(list(CONTENT.items())))) == "87850f51e5bcfbe4"


def test_stable_hash_matches_the_request_keys_already_cached():
    assert (
        stable_hash(CONTENT) == "6ebc3760e54564c0e5f12c2a0e50e4c6bc94d7b98cafb6b97a9bae2b24dc8c7e"
    )
