from tests.conftest import Service


def test_send_tap_publish(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    message_id = sent["messages"][0]["message_id"]
    assert service.tap(message_id, 2).status == 200
    details = service.details("Alert Response Received")
    assert [d["choice"] for d in details] == ["entrapment"]
    view = service.get_alert(sent["alert_id"]).json()
    assert view["state"] == "answered"
