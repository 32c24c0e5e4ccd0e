"""The unit tier's guard (tests/unit/conftest.py) refuses sockets: opening one fails the test."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from tests.support.no_sockets import SocketInUnitTest


def test_creating_a_socket_fails() -> None:
    with pytest.raises(SocketInUnitTest):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_connecting_fails_before_any_packet_leaves() -> None:
    with pytest.raises(SocketInUnitTest):
        socket.create_connection(("127.0.0.1", 9))


def test_an_http_client_fails() -> None:
    with pytest.raises(SocketInUnitTest):
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)


def test_a_server_cannot_listen() -> None:
    from local.woosh_standin import WooshStandIn

    with pytest.raises(SocketInUnitTest):
        WooshStandIn(api_key="k").start()
