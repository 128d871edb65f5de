"""A household's broker: TLS, users and passwords, ACLs, and the plain cause of a failure.

One real mosquitto serves every case: a plain listener and TLS listeners with a
good, an expired, a wrong-host and a self-signed certificate, and one that wants
a client certificate; users from ``mosquitto_passwd`` and an ACL in which each
speaker (user = its device id) writes only its own topics and reads its own
commands, and the dashboard reads everything. The CA and certificates are made
with ``openssl`` here.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from earmark import doctor
from earmark.config import Config
from earmark.config.loader import load_text
from earmark.config.model import MqttConfig
from earmark.errors import ConfigError
from earmark.store import outbox
from earmark.store.database import Database
from earmark.sync.broker import LocalBroker, free_port, port_answers
from earmark.sync.home_broker import BrokerPasswordError, broker_address
from earmark.sync.mqtt import MqttLink, reconnect_wait, refusal
from earmark.sync.relay import OutboxRelay
from tests.daemon_process import earmark
from tests.support import wait_for

PASSWORDS = {"kitchen": "kitchen-secret", "bedroom": "bedroom-secret", "dashboard": "dash-secret"}
EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "mosquitto"
# the example's TLS listener, then one per bad certificate and one that wants a client's
LISTENERS = ("tls", "expired", "wrong_host", "self_signed", "client_cert")


@dataclass
class Household:
    pki: Path
    ports: dict[str, int]
    broker: LocalBroker


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


def _key_and_request(folder: Path, name: str, subject: str) -> None:
    _openssl(
        folder,
        *("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject),
    )


def _signed(folder: Path, name: str, subject: str, extensions: str, days: int = 30) -> None:
    """A key and a certificate signed by the test CA; ``days`` -1 made it expire yesterday."""
    _key_and_request(folder, name, subject)
    (folder / f"{name}.ext").write_text(extensions + "\n")
    _openssl(
        folder,
        *("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-out", f"{name}.crt", "-days", str(days)),
        *("-extfile", f"{name}.ext"),
    )


def _make_pki(folder: Path) -> None:
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        folder,
        *("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30"),
        *("-subj", "/CN=earmark test CA", "-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    here = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    _signed(folder, "server", "/CN=localhost", here)
    _signed(folder, "expired", "/CN=localhost", here, days=-1)
    _signed(folder, "wrong_host", "/CN=elsewhere.invalid", "subjectAltName=DNS:elsewhere.invalid")
    _openssl(
        folder,
        *("req", "-x509", *ec, "-keyout", "self_signed.key", "-out", "self_signed.crt"),
        *("-days", "30", "-subj", "/CN=localhost", "-addext", here),
    )
    _signed(folder, "client", "/CN=kitchen", "extendedKeyUsage=clientAuth")
    passwords = folder / "passwd"
    passwords.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
    shutil.copy(EXAMPLES / "acl", folder / "acl")


def _broker_config(pki: Path, ports: dict[str, int]) -> str:
    """The example mosquitto.conf with this test's files and ports, plus the bad listeners."""
    example = (EXAMPLES / "mosquitto.conf").read_text()
    example = example.replace("/etc/mosquitto/certs/", f"{pki}/").replace(
        "/etc/mosquitto/", f"{pki}/"
    )
    example = example.replace("listener 8883", f"listener {ports['tls']} 127.0.0.1")
    example = example.replace("listener 1883 127.0.0.1", "")  # LocalBroker's own, on plain
    certs = {
        "expired": "expired",
        "wrong_host": "wrong_host",
        "self_signed": "self_signed",
        "client_cert": "server",
    }
    lines = [example]
    for name in LISTENERS[1:]:
        lines += [
            f"listener {ports[name]} 127.0.0.1",
            f"certfile {pki / certs[name]}.crt",
            f"keyfile {pki / certs[name]}.key",
            f"cafile {pki / 'ca.crt'}",
        ]
        if name == "client_cert":
            lines.append("require_certificate true")
    return "\n".join(lines) + "\n"


def _free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="module")
def household() -> Iterator[Household]:
    # mkdtemp, not tmp_path: mosquitto must read these files (PLATFORM.md)
    pki = Path(tempfile.mkdtemp(prefix="earmark-pki-"))
    try:
        _make_pki(pki)
        plain, *tls_ports = _free_ports(1 + len(LISTENERS))
        ports = {"plain": plain, **dict(zip(LISTENERS, tls_ports, strict=True))}
        broker = LocalBroker(plain, _broker_config(pki, ports)).start()
        try:
            for port in ports.values():
                wait_for(lambda p=port: port_answers("127.0.0.1", p), 10, what=f"port {port}")
            yield Household(pki, ports, broker)
        finally:
            broker.close()
    finally:
        shutil.rmtree(pki, ignore_errors=True)


def _mqtt(house: Household, listener: str = "tls", **options: Any) -> MqttConfig:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": house.ports[listener],
        "username": "kitchen",
        "password": PASSWORDS["kitchen"],
    }
    if listener != "plain":
        settings |= {"tls": True, "ca_file": house.pki / "ca.crt"}
    return MqttConfig(**(settings | options))


def _doctor_says(mqtt: MqttConfig, tmp_path: Path) -> str:
    """The broker line of ``earmark doctor`` for a speaker named kitchen."""
    lines: list[str] = []
    doctor.run(Config(device_id="kitchen", data_dir=tmp_path, mqtt=mqtt), lines.append)
    line = next(x for x in lines if x.split()[1:2] == ["broker"])
    assert "\n" not in line
    return line


class Dashboard:
    """A real client logged in as the dashboard user, recording what it hears."""

    def __init__(self, house: Household, topic: str) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.username_pw_set("dashboard", PASSWORDS["dashboard"])
        self.client.tls_set(ca_certs=str(house.pki / "ca.crt"))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._heard
        self.client.connect("127.0.0.1", house.ports["tls"])
        self.client.loop_start()
        wait_for(subscribed.is_set, 10, what="dashboard subscribed")

    def _heard(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def payloads(self) -> list[Any]:
        with self._lock:
            return [json.loads(m.payload) for m in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def start_link() -> Iterator[Callable[..., MqttLink]]:
    """Start a link as the speaker ``device_id`` would; stopped at the end."""
    links: list[MqttLink] = []

    def start(mqtt: MqttConfig, device_id: str, **callbacks: Any) -> MqttLink:
        link = MqttLink(
            broker_address(mqtt), f"earmark/{device_id}", f"earmark-{device_id}", **callbacks
        )
        links.append(link)
        link.start()
        return link

    yield start
    for link in links:
        link.stop()


def test_a_highlight_reaches_the_dashboard_over_tls_with_a_password(
    household: Household, db: Database, start_link: Callable[..., MqttLink]
) -> None:
    dashboard = Dashboard(household, "earmark/+/highlight")
    relays: list[OutboxRelay] = []
    link = start_link(_mqtt(household), "kitchen", on_acked=lambda mid: relays[0].acked(mid))
    relay = OutboxRelay(db, link, poll_seconds=0.05)
    relays.append(relay)
    relay.start()
    try:
        wait_for(lambda: link.connected, 10, what="kitchen connected")
        with db.transaction() as conn:
            payload = json.dumps({"schema": 1, "id": "h-tls"}).encode()
            outbox.enqueue(conn, "highlight", payload)
        relay.notify()
        wait_for(lambda: outbox.pending_count(db) == 0, 10, what="highlight acknowledged")
        wait_for(lambda: {"schema": 1, "id": "h-tls"} in dashboard.payloads(), 10, what="dashboard")
    finally:
        relay.stop(flush_seconds=0)
        dashboard.close()


def test_doctor_says_the_broker_connects_over_tls(household: Household, tmp_path: Path) -> None:
    line = _doctor_says(_mqtt(household), tmp_path)
    assert line.startswith("ok") and "as kitchen over TLS" in line


def test_doctor_says_wrong_credentials(household: Household, tmp_path: Path) -> None:
    line = _doctor_says(_mqtt(household, password="not-it"), tmp_path)
    assert line.startswith("FAIL") and "wrong credentials" in line
    assert "not-it" not in line


def test_doctor_says_a_password_file_holds_the_right_password(
    household: Household, tmp_path: Path
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORDS["kitchen"] + "\n")
    line = _doctor_says(_mqtt(household, password=None, password_file=secret), tmp_path)
    assert line.startswith("ok")


def test_doctor_says_anonymous_is_not_authorised(household: Household, tmp_path: Path) -> None:
    line = _doctor_says(_mqtt(household, username=None, password=None), tmp_path)
    assert line.startswith("FAIL") and "not authorised" in line and "anonymous" in line


def test_a_publish_the_acl_refuses_is_logged_in_one_line(
    household: Household,
    start_link: Callable[..., MqttLink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # user kitchen, but the speaker calls itself bedroom: its topics are not kitchen's
    caplog.set_level(logging.WARNING, logger="earmark.sync.mqtt")
    link = start_link(_mqtt(household), "bedroom")
    wait_for(lambda: link.connected, 10, what="link connected")
    link.publish("highlight", b'{"schema": 1}')

    def refusals() -> list[str]:
        return [r.getMessage() for r in caplog.records if "refused message" in r.getMessage()]

    wait_for(lambda: len(refusals()) >= 2, 10, what="status and highlight refused")
    assert all("Not authorized" in line and "\n" not in line for line in refusals())


@pytest.mark.parametrize(
    ("listener", "cause"),
    [
        ("expired", "TLS verify failed: the broker's certificate has expired"),
        ("wrong_host", "TLS verify failed: the broker's certificate is not for '127.0.0.1'"),
        ("self_signed", "TLS verify failed: the broker's certificate is self-signed"),
        ("plain", "does not speak TLS"),
        ("client_cert", "wants a client certificate (set mqtt.client_cert and mqtt.client_key)"),
    ],
)
def test_doctor_names_what_is_wrong_with_tls(
    household: Household, tmp_path: Path, listener: str, cause: str
) -> None:
    mqtt = _mqtt(household, listener, tls=True, ca_file=household.pki / "ca.crt")
    line = _doctor_says(mqtt, tmp_path)
    assert line.startswith("FAIL") and cause in line


def test_doctor_says_an_unknown_ca(household: Household, tmp_path: Path) -> None:
    # the system's CAs do not know the test CA
    line = _doctor_says(_mqtt(household, ca_file=None), tmp_path)
    assert line.startswith("FAIL") and "signed by a CA unknown to the system's CAs" in line


def test_a_client_certificate_is_accepted_where_one_is_required(
    household: Household, tmp_path: Path
) -> None:
    pki = household.pki
    mqtt = _mqtt(
        household, "client_cert", client_cert=pki / "client.crt", client_key=pki / "client.key"
    )
    assert _doctor_says(mqtt, tmp_path).startswith("ok")


def test_doctor_says_a_name_is_not_resolved(tmp_path: Path) -> None:
    line = _doctor_says(MqttConfig(host="broker.invalid"), tmp_path)
    assert line.startswith("FAIL") and "name not resolved: 'broker.invalid'" in line


def test_doctor_says_nothing_listens(tmp_path: Path) -> None:
    line = _doctor_says(MqttConfig(host="127.0.0.1", port=free_port()), tmp_path)
    assert line.startswith("FAIL") and "connection refused: nothing listens" in line


def test_the_daemon_logs_why_it_cannot_connect_once(
    household: Household,
    start_link: Callable[..., MqttLink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="earmark.sync.mqtt")
    mqtt = _mqtt(household, "expired", reconnect_min_seconds=1, reconnect_max_seconds=1)
    start_link(mqtt, "kitchen")

    def attempts() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "cannot connect" in r.getMessage()]

    wait_for(lambda: len(attempts()) >= 2, 15, what="two failed attempts")
    said = [r for r in attempts() if r.levelno == logging.WARNING]
    assert len(said) == 1
    assert "certificate has expired" in said[0].getMessage()


def test_the_daemon_logs_wrong_credentials(
    household: Household,
    start_link: Callable[..., MqttLink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="earmark.sync.mqtt")
    start_link(_mqtt(household, password="not-it"), "kitchen")
    wait_for(
        lambda: any("wrong credentials" in r.getMessage() for r in caplog.records),
        10,
        what="wrong credentials logged",
    )
    assert not any("not-it" in r.getMessage() for r in caplog.records)


def test_doctor_says_a_broker_that_never_answers_timed_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # takes connections (the kernel's backlog), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        line = _doctor_says(MqttConfig(host="127.0.0.1", port=port), tmp_path)
    assert line.startswith("FAIL") and "timed out" in line


def test_a_speaker_hears_commands_the_dashboard_sends_it(
    household: Household, start_link: Callable[..., MqttLink]
) -> None:
    heard: list[str] = []
    link = start_link(_mqtt(household), "kitchen", on_command=lambda a, p, r: heard.append(a))
    wait_for(lambda: link.connected, 10, what="kitchen connected")
    dashboard = Dashboard(household, "earmark/kitchen/cmd/result")
    try:
        dashboard.client.publish("earmark/kitchen/cmd/status", b"{}", qos=1)
        wait_for(lambda: heard == ["status"], 10, what="command heard")
    finally:
        dashboard.close()


def test_the_password_is_in_no_repr_and_no_error() -> None:
    mqtt = MqttConfig(host="broker.lan", username="kitchen", password="hunter2-secret")
    assert "hunter2-secret" not in repr(mqtt)
    assert "hunter2-secret" not in repr(broker_address(mqtt))


def test_a_missing_certificate_is_one_line_naming_its_key(tmp_path: Path) -> None:
    text = f"mqtt:\n  host: broker.lan\n  tls: true\n  ca_file: {tmp_path / 'none.crt'}\n"
    with pytest.raises(ConfigError) as failed:
        load_text(text, Config)
    message = str(failed.value)
    assert "'mqtt.ca_file'" in message and "does not exist" in message and "\n" not in message


def test_the_password_comes_from_the_first_line_of_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("from-the-file\nnot this\n")
    mqtt = MqttConfig(host="broker.lan", username="kitchen", password_file=secret)
    assert broker_address(mqtt).password == "from-the-file"


def test_the_password_comes_from_its_environment_variable() -> None:
    mqtt = MqttConfig(host="broker.lan", username="kitchen", password_env="EARMARK_MQTT_PASSWORD")
    assert broker_address(mqtt, {"EARMARK_MQTT_PASSWORD": "from-env"}).password == "from-env"
    with pytest.raises(BrokerPasswordError, match=r"\$EARMARK_MQTT_PASSWORD, which is not set"):
        broker_address(mqtt, {})


def test_two_sources_of_the_password_are_refused(tmp_path: Path) -> None:
    text = "mqtt:\n  username: kitchen\n  password: a\n  password_env: EARMARK_MQTT_PASSWORD\n"
    with pytest.raises(ConfigError, match="'mqtt.password_env'.*not both"):
        load_text(text, Config)


def test_reconnect_waits_double_up_to_the_cap_and_are_spread() -> None:
    rng = random.Random(7)
    waits = [[reconnect_wait(n, 1, 60, rng) for n in range(12)] for _ in range(50)]
    for series in waits:
        assert series[0] == 1
        assert all(1 <= w <= min(60, 2**n) and w >= min(60, 2**n) / 2 for n, w in enumerate(series))
    late = {series[-1] for series in waits}  # at the cap: 30 .. 60, not all the same second
    assert min(late) >= 30 and max(late) <= 60 and len(late) > 5


def test_doctor_names_wrong_credentials_from_the_config_file(
    household: Household, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("not-kitchens-password\n")
    mqtt = {
        "host": "127.0.0.1",
        "port": household.ports["tls"],
        "username": "kitchen",
        "password_file": str(secret),
        "tls": True,
        "ca_file": str(household.pki / "ca.crt"),
    }
    result = earmark(write_config({"mqtt": mqtt}), "doctor")
    line = next(x for x in result.stdout.splitlines() if x.split()[1:2] == ["broker"])
    assert result.returncode == 1
    assert line.startswith("FAIL") and "wrong credentials" in line
    assert "not-kitchens-password" not in result.stdout + result.stderr


@pytest.fixture
def picky_broker() -> Iterator[LocalBroker]:
    """A broker that takes anyone, but only client ids starting ``kitchen-``; mosquitto
    answers the others "Not authorized" (0x87), not "Client identifier not valid"."""
    with LocalBroker(free_port(), "clientid_prefixes kitchen-\n") as running:
        yield running


def test_doctor_names_the_client_id_the_broker_refuses(
    picky_broker: LocalBroker, tmp_path: Path
) -> None:
    line = _doctor_says(MqttConfig(host="127.0.0.1", port=picky_broker.port), tmp_path)
    assert line.startswith("FAIL") and "refused client id 'earmark-kitchen'" in line
    assert "clientid_prefixes" in line


def test_a_client_id_not_valid_is_named_in_plain_words() -> None:
    # what other brokers answer (mosquitto only for an empty id, which earmark never sends)
    reason = ReasonCode(PacketTypes.CONNACK, "Client identifier not valid")
    said = refusal(broker_address(MqttConfig(host="broker.lan")), reason, "earmark-kitchen")
    assert said.startswith("client id refused: ") and "'earmark-kitchen'" in said


def test_the_daemon_logs_a_refused_client_id_once_and_keeps_trying(
    picky_broker: LocalBroker,
    start_link: Callable[..., MqttLink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="earmark.sync.mqtt")
    mqtt = MqttConfig(
        host="127.0.0.1",
        port=picky_broker.port,
        reconnect_min_seconds=1,
        reconnect_max_seconds=1,
    )
    link = start_link(mqtt, "kitchen")

    def attempts() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "cannot connect" in r.getMessage()]

    wait_for(lambda: len(attempts()) >= 3, 30, what="three refused attempts")
    said = [r for r in attempts() if r.levelno >= logging.WARNING]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert "refused client id 'earmark-kitchen'" in said[0].getMessage()
    tried = [r.created for r in attempts()]
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(tried)), "retried without waiting"

    picky_broker.stop()  # the household fixes its broker; the link is still trying
    picky_broker.extra_config = ""
    picky_broker.start()
    wait_for(lambda: link.connected, 30, what="link connected to the fixed broker")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
