"""The blast-radius guard refuses anything that is not this environment on loopback."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaoskit.errors import BlastRadiusError
from chaoskit.guard import ensure_loopback, ensure_own_endpoint, is_loopback, split_address

OWN = {"127.0.0.1:21001", "127.0.0.1:21002"}


@pytest.mark.parametrize(
    "address", ["127.0.0.1:9092", "localhost:80", "http://127.0.0.1:8080/x", "[::1]:6379", "127.3.4.5:1"]
)
def test_loopback_is_allowed(address):
    ensure_loopback(address, "load")


@pytest.mark.parametrize(
    "address",
    ["10.0.0.5:9092", "kafka.prod.internal:9092", "http://example.com/documents", "0.0.0.0:80", "[2001:db8::1]:80"],
)
def test_anything_else_is_refused_with_an_explanation(address):
    with pytest.raises(BlastRadiusError, match="not on loopback.*chaoskit status"):
        ensure_loopback(address, "load")


def test_only_the_environments_own_endpoints():
    ensure_own_endpoint("127.0.0.1:21001", OWN, "probe")
    ensure_own_endpoint("localhost:21002", OWN, "probe")
    with pytest.raises(BlastRadiusError, match="not an endpoint of this environment.*127.0.0.1:21001"):
        ensure_own_endpoint("127.0.0.1:6379", OWN, "probe")


def test_split_address_forms():
    assert split_address("h:1") == ("h", 1)
    assert split_address("[::1]:5") == ("::1", 5)
    assert split_address("http://127.0.0.1/x") == ("127.0.0.1", None)
    with pytest.raises(BlastRadiusError, match="not a number"):
        split_address("h:port")


@given(st.ip_addresses())
def test_any_ip_is_allowed_exactly_when_it_is_loopback(ip):
    assert is_loopback(str(ip)) == ip.is_loopback
