"""The one wrapper around paho-mqtt: a link to the broker for one speaker.

It publishes ``status`` (retained, with ``offline`` as the last will), hands
commands from ``cmd/<action>`` to a callback, reports connection changes, and
reports broker acknowledgements (PUBACK) so the outbox relay can mark rows
sent. Paho's callbacks run on its network thread; the callbacks given here
must not block.

Commands are subscribed with MQTT 5 options: ``retain_as_published`` on, so a
command that carries the retain flag is seen as such whether it arrives live
or is replayed because we subscribed (the decoder refuses both, and the link
clears it from the broker so it never replays), and ``no_local``, so what this
link publishes under ``cmd/`` (its answers, the clearing of a retained
command) never comes back as a command.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from earmark.errors import EarmarkError

log = logging.getLogger(__name__)

# action, payload, retained (the message carried the retain flag)
OnCommand = Callable[[str, bytes, bool], None]


class BrokerUnreachable(EarmarkError):
    """The broker could not be reached or refused us; the message says why in plain words."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None  # None with tls: the system's CAs
    keepalive: int = 30
    client_cert: str | None = None
    client_key: str | None = None
    # waits between attempts: from min, doubling up to max, each jittered
    reconnect_min: int = 1
    reconnect_max: int = 60

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class MqttLink:
    def __init__(
        self,
        address: BrokerAddress,
        base_topic: str,
        client_id: str,
        on_command: OnCommand | None = None,
        on_acked: Callable[[int], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
    ) -> None:
        self.address = address
        self.base_topic = base_topic.rstrip("/")
        self.client_id = client_id
        self._on_command = on_command
        self._on_acked = on_acked
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._connected = threading.Event()
        self._connections = 0
        # absolute topics outside our own (Home Assistant's birth message), each
        # subscribed on every connect and handed to its callback on paho's thread
        self._watched: dict[str, Callable[[bytes], None]] = {}
        self._stopping = False
        self._attempts = 0  # failed attempts since the last connect, for the back-off
        self._last_cause: str | None = None  # said once, not on every retry
        self._answered = False  # the broker answered this attempt's CONNECT
        self._read_error: OSError | None = None  # why paho last lost the socket
        self.client = _client(address, client_id)
        self.client.will_set(self.topic("status"), b"offline", qos=1, retain=True)
        self._back_off()
        self.client.on_connect = self._connected_cb
        self.client.on_connect_fail = self._connect_failed_cb
        self.client.on_log = self._logged_cb
        self.client.on_disconnect = self._disconnected_cb
        self.client.on_publish = self._published_cb
        self.client.on_message = self._message_cb

    def topic(self, relative: str) -> str:
        return f"{self.base_topic}/{relative}"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def connections(self) -> int:
        """How many times the link has connected: a message id is only worth
        waiting for on the connection it was sent on."""
        return self._connections

    def watch(self, topic: str, callback: Callable[[bytes], None]) -> None:
        """Hear ``topic`` (absolute, no wildcards) from the next connect on; the
        callback runs on paho's thread and must only hand over."""
        self._watched[topic] = callback
        if self.connected:
            self.client.subscribe(topic, qos=1)

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting while the broker is away."""
        self.client.connect_async(self.address.host, self.address.port, self.address.keepalive)
        self.client.loop_start()

    def publish(
        self, relative_topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> int | None:
        """Send a message; the message id to watch for its PUBACK, or None if not sent.

        The PUBACK (``on_acked``) may arrive on paho's thread before this returns.
        """
        return self.publish_absolute(self.topic(relative_topic), payload, qos, retain)

    def publish_absolute(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> int | None:
        """``publish`` on a topic outside the speaker's own (Home Assistant's
        discovery config)."""
        if not self.connected:
            return None
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def stop(self) -> None:
        self._stopping = True
        if self.connected:
            info = self.client.publish(self.topic("status"), b"offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    # paho callbacks (network thread)
    def _connected_cb(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        self._answered = True
        if reason.is_failure:
            self._cannot_connect(refusal(self.address, reason, self.client_id))
            return
        again = " again" if self._connections else ""
        self._connections += 1
        self._attempts = 0  # paho forgets its own wait here too; the next is from min
        self._last_cause = None
        self._connected.set()
        log.info("mqtt connected%s broker=%s:%s", again, self.address.host, self.address.port)
        options = SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True)
        client.subscribe(self.topic("cmd/+"), options=options)
        for topic in self._watched:
            client.subscribe(topic, qos=1)
        # after the subscriptions: the broker takes a client's packets in order, so a
        # dashboard that hears "online" and asks at once (resync) is heard
        client.publish(self.topic("status"), b"online", qos=1, retain=True)
        if self._on_connected is not None:
            self._on_connected()

    def _disconnected_cb(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        self._back_off()
        answered, self._answered = self._answered, False
        error, self._read_error = self._read_error, None
        if not self._connected.is_set():
            # a connect attempt that failed: nothing was up; a refusal is already said
            if not answered and not self._stopping:
                cause = failure(self.address, error or ConnectionResetError(), after_connect=True)
                self._cannot_connect(cause)
            return
        self._connected.clear()
        if not self._stopping:
            log.warning(
                "mqtt disconnected from %s:%s: %s; will retry",
                self.address.host,
                self.address.port,
                reason,
            )
        if self._on_disconnected is not None:
            self._on_disconnected("stopped" if self._stopping else str(reason))

    def _connect_failed_cb(self, client: paho.Client, userdata: object) -> None:
        # paho calls this inside its ``except OSError`` around the attempt, without
        # the exception: sys.exception() is that exception
        error = sys.exception()
        self._cannot_connect(
            failure(self.address, error) if error is not None else "connection failed"
        )
        self._back_off()

    def _logged_cb(self, client: paho.Client, userdata: object, level: int, message: str) -> None:
        # a socket lost after connecting (a TLS alert, a reset) reaches us only in
        # paho's log, written inside its ``except OSError``
        error = sys.exception()
        if isinstance(error, OSError):
            self._read_error = error

    def _cannot_connect(self, cause: str) -> None:
        """Say why once; the same cause again on a retry is only debug."""
        level = logging.DEBUG if cause == self._last_cause else logging.WARNING
        self._last_cause = cause
        log.log(level, "mqtt cannot connect broker=%s: %s; will retry", self.address, cause)

    def _back_off(self) -> None:
        """Set the wait before paho's next attempt: doubling from reconnect_min up
        to reconnect_max, then a random point in its upper half, so speakers that
        lost the broker together do not all come back in the same second (paho's
        own back-off has no jitter; a fixed min = max wait is set each time)."""
        wait = reconnect_wait(
            self._attempts, self.address.reconnect_min, self.address.reconnect_max
        )
        self._attempts += 1
        self.client.reconnect_delay_set(min_delay=wait, max_delay=wait)

    def _published_cb(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt broker refused message mid=%d: %s", mid, reason)
            return
        if self._on_acked is not None:
            self._on_acked(mid)

    def _message_cb(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        watcher = self._watched.get(message.topic)
        if watcher is not None:
            watcher(bytes(message.payload))
            return
        prefix = self.topic("cmd/")
        if self._on_command is None or not message.topic.startswith(prefix):
            return
        action = message.topic[len(prefix) :]
        if action == "result":
            return  # our own answers
        retained = bool(message.retain)
        if retained and message.payload:
            # left on the broker, it would come back on every reconnect; where the
            # broker's ACL refuses, the refusal is logged by _published_cb
            log.info("mqtt retained command on the broker topic=%s; clearing it", message.topic)
            client.publish(message.topic, b"", qos=1, retain=True)
        self._on_command(action, bytes(message.payload), retained)


def reconnect_wait(attempt: int, low: int, high: int, rng: random.Random | None = None) -> int:
    """Whole seconds to wait before retry ``attempt`` (0 = the first): the doubled
    wait, capped at ``high``, then a random point in its upper half (at least ``low``)."""
    ceiling = min(high, low * 2 ** min(attempt, 16))
    return max(low, (rng or random).randint((ceiling + 1) // 2, ceiling))


def _client(address: BrokerAddress, client_id: str) -> paho.Client:
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(
            ca_certs=address.ca_file,
            certfile=address.client_cert,
            keyfile=address.client_key,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    return client


def probe(
    address: BrokerAddress, client_id: str, timeout: float = 10.0, speaker_id: str | None = None
) -> str:
    """Connect once and leave; what answered, or BrokerUnreachable with the cause.

    ``client_id`` must not be the speaker's own, or the broker drops the speaker;
    a refusal names ``speaker_id`` (what the speaker connects as) if given: ``client_id``
    should start with it, so a broker that refuses ids without its prefix refuses both.
    """
    client = _client(address, client_id)
    client.connect_timeout = timeout
    answered = threading.Event()
    reasons: list[ReasonCode] = []
    lost: list[BaseException] = []

    def connected(c: paho.Client, u: object, f: object, reason: ReasonCode, p: object) -> None:
        reasons.append(reason)
        answered.set()

    def logged(c: paho.Client, u: object, level: int, message: str) -> None:
        # a TLS alert after the handshake (TLS 1.3: client certificate refused)
        # surfaces only in paho's log of the failed read
        error = sys.exception()
        if isinstance(error, OSError):
            lost.append(error)
            answered.set()

    def closed(c: paho.Client, u: object, f: object, reason: ReasonCode, p: object) -> None:
        answered.set()

    client.on_connect = connected
    client.on_disconnect = closed
    client.on_log = logged
    try:
        client.connect(address.host, address.port, address.keepalive)
    except OSError as exc:
        raise BrokerUnreachable(failure(address, exc, timeout)) from None
    client.loop_start()
    try:
        if not answered.wait(timeout):
            raise BrokerUnreachable(
                f"timed out: {address} took the connection but sent no MQTT answer in "
                f"{timeout:g} s" + ("" if address.tls else " (a TLS listener? set tls: true)")
            )
        if reasons and reasons[0].is_failure:
            raise BrokerUnreachable(refusal(address, reasons[0], speaker_id or client_id))
        if not reasons:
            error = lost[0] if lost else ConnectionResetError()
            raise BrokerUnreachable(failure(address, error, after_connect=True))
    finally:
        client.disconnect()
        client.loop_stop()
    who = f" as {address.username}" if address.username else ""
    return f"connected to {address}{who}" + (" over TLS" if address.tls else "")


# OpenSSL's X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code
_EXPIRED, _NOT_YET_VALID = 10, 9
_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN = 18, 19
_UNKNOWN_ISSUER = (2, 20, 21)
_WRONG_HOST = (62, 64)  # host name, IP address mismatch


def failure(
    address: BrokerAddress,
    error: BaseException,
    timeout: float | None = None,
    after_connect: bool = False,
) -> str:
    """A failed connect or TLS handshake in plain words, one line; ``after_connect``:
    the socket (and TLS handshake) was up and was lost before the broker answered."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "TLS verify failed: " + _verify_cause(address, error)
    if isinstance(error, ssl.SSLError) and not isinstance(error, ssl.SSLEOFError):
        return "TLS failed: " + _tls_cause(address, error)
    if isinstance(error, socket.gaierror):
        return f"name not resolved: '{address.host}' is not a known host (check mqtt.host)"
    if isinstance(error, ConnectionRefusedError):
        return (
            f"connection refused: nothing listens on {address} "
            "(is the broker running? check mqtt.host and mqtt.port)"
        )
    if isinstance(error, TimeoutError):
        within = f" within {timeout:g} s" if timeout else ""
        return f"timed out: {address} did not answer{within} (wrong host, or a firewall?)"
    if isinstance(error, (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError)):
        return _closed(address, error, after_connect)
    return f"cannot connect to {address}: {getattr(error, 'strerror', None) or error}"


def _closed(address: BrokerAddress, error: BaseException, after_connect: bool) -> str:
    if not address.tls:
        return f"connection closed by {address} before it answered (a TLS listener? set tls: true)"
    if not after_connect and not isinstance(error, ssl.SSLEOFError):
        # reset at our TLS hello: the other side took it for garbage
        return f"TLS failed: {address} does not speak TLS (a plain listener? set tls: false)"
    if address.client_cert:
        return "TLS failed: the broker closed the connection: it does not accept mqtt.client_cert"
    return (
        "TLS failed: the broker closed the connection: it wants a client certificate "
        "(set mqtt.client_cert and mqtt.client_key)"
    )


def _verify_cause(address: BrokerAddress, error: ssl.SSLCertVerificationError) -> str:
    code = error.verify_code
    trust = f"mqtt.ca_file {address.ca_file}" if address.ca_file else "the system's CAs"
    if code == _EXPIRED:
        return "the broker's certificate has expired (renew it on the broker)"
    if code == _NOT_YET_VALID:
        return "the broker's certificate is not valid yet (check the clocks)"
    if code == _SELF_SIGNED:
        return f"the broker's certificate is self-signed and not trusted by {trust}"
    if code == _SELF_SIGNED_IN_CHAIN or code in _UNKNOWN_ISSUER:
        return (
            f"the broker's certificate is signed by a CA unknown to {trust} "
            "(set mqtt.ca_file to the CA that signed it)"
        )
    if code in _WRONG_HOST:
        return (
            f"the broker's certificate is not for '{address.host}' "
            "(connect by a name the certificate holds, or reissue it)"
        )
    return error.verify_message or str(error)


def _tls_cause(address: BrokerAddress, error: ssl.SSLError) -> str:
    reason = error.reason or ""
    if reason == "WRONG_VERSION_NUMBER":
        return f"{address} does not speak TLS (a plain listener? set tls: false or the TLS port)"
    if "CERTIFICATE_REQUIRED" in reason:
        return "the broker wants a client certificate (set mqtt.client_cert and mqtt.client_key)"
    if reason.endswith(("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN")):
        return "the broker does not accept our client certificate (mqtt.client_cert)"
    return reason.replace("_", " ").lower() or str(error)


# MQTT 5 CONNACK reason codes (and what paho maps MQTT 3.1.1 refusals to)
_CLIENT_ID_NOT_VALID = 133
_BAD_CREDENTIALS = 134
_NOT_AUTHORISED = 135


def refusal(address: BrokerAddress, reason: ReasonCode, client_id: str) -> str:
    """A CONNACK refusal in plain words, one line, naming ``client_id`` where it may
    be the cause."""
    user = address.username
    if reason.value == _CLIENT_ID_NOT_VALID:
        return (
            f"client id refused: the broker does not accept client id '{client_id}' "
            "(allow it on the broker, e.g. in its clientid_prefixes)"
        )
    if reason.value == _BAD_CREDENTIALS:
        if not user:
            return "wrong credentials: the broker wants a user (set mqtt.username and a password)"
        return (
            f"wrong credentials: the broker refused user '{user}' or its password "
            "(check mqtt.username and the password)"
        )
    if reason.value == _NOT_AUTHORISED:
        # mosquitto answers so a client id without its clientid_prefixes too (before
        # it looks at user and password), and a wrong password: the code cannot tell
        if not user:
            return (
                "not authorised: the broker takes no anonymous clients "
                f"(set mqtt.username and a password), or refused client id '{client_id}' "
                "(check its clientid_prefixes)"
            )
        return (
            f"wrong credentials or not authorised: the broker refused user '{user}' "
            f"or client id '{client_id}' (check mqtt.username and the password, "
            "then the broker's users and its clientid_prefixes)"
        )
    return f"refused by the broker: {reason}"
