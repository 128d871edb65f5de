"""The pairing agent: what BlueZ asks while ``earmark headphones pair`` runs.

A headless box has no screen to show a passkey on and no keyboard to type a PIN
with, so BlueZ (``org.bluez.Agent1``, registered as ``NoInputNoOutput``) asks
this object instead: an older headset with legacy pairing wants a fixed PIN
(nearly always ``0000``; the listener gives another with ``--pin``), a newer one
with Secure Simple Pairing wants a yes ("Just Works"). It says yes, and gives
the PIN, only for the one headset being paired; anything else is refused with
``org.bluez.Error.Rejected``.

``BlueZ.pair`` (bluetooth.py) exports it on its own bus connection, registers it
with ``org.bluez.AgentManager1`` for the Pair call (BlueZ asks the agent of the
connection that called Pair) and unregisters it afterwards, paired or not.
"""

from __future__ import annotations

import logging

from dbus_fast import DBusError
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.service import ServiceInterface, method

log = logging.getLogger(__name__)

AGENT = "org.bluez.Agent1"
AGENT_PATH = "/org/earmark/pairing_agent"
CAPABILITY = "NoInputNoOutput"  # no screen, no keyboard
DEFAULT_PIN = "0000"
REJECTED = "org.bluez.Error.Rejected"

# (no "-> None" on the D-Bus methods: dbus-fast reads return annotations as signatures)


class PairingAgent(ServiceInterface):
    """Answers BlueZ for the headset at ``device_path``, with ``pin`` if it asks for one."""

    def __init__(self, device_path: str, pin: str = DEFAULT_PIN) -> None:
        super().__init__(AGENT)
        self.device_path = device_path
        self.pin = pin
        self.gave_pin = False  # asked for the PIN, and gave it

    def _ours(self, device: str, what: str) -> str:
        """The headset's address; refuses a request about any other device."""
        address = _address_of(device)
        if device != self.device_path:
            log.warning(
                "pairing agent refused %s device=%s (not the one being paired)", what, address
            )
            raise DBusError(REJECTED, f"earmark pairs only {_address_of(self.device_path)} now")
        return address

    @method()
    def Release(self):  # noqa: N802 (BlueZ's names)
        log.info("pairing agent released by bluetoothd")

    @method()
    def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:  # noqa: N802
        address = self._ours(device, "a PIN")
        self.gave_pin = True
        log.info("pairing agent gave the PIN device=%s", address)  # never the PIN itself
        return self.pin

    @method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr):  # noqa: N802
        # for keyboards: no display here, and nothing to type the PIN on
        self._ours(device, "showing a PIN")
        log.info("pairing agent has no display for a PIN device=%s", _address_of(device))

    @method()
    def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:  # noqa: N802
        address = self._ours(device, "a passkey")
        if not (self.pin.isdigit() and int(self.pin) <= 999999):
            log.warning("pairing agent has no numeric passkey device=%s", address)
            raise DBusError(REJECTED, "no passkey: give a numeric --pin")
        self.gave_pin = True
        log.info("pairing agent gave the PIN as a passkey device=%s", address)
        return int(self.pin)

    @method()
    def DisplayPasskey(  # noqa: N802
        self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16
    ):
        self._ours(device, "showing a passkey")

    @method()
    def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32):  # noqa: N802
        # numeric comparison with nobody to compare: "Just Works", for this headset only
        log.info("pairing agent confirmed device=%s", self._ours(device, "a confirmation"))

    @method()
    def RequestAuthorization(self, device: DBusObjectPath):  # noqa: N802
        log.info("pairing agent authorised device=%s", self._ours(device, "an authorisation"))

    @method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr):  # noqa: N802
        address = self._ours(device, f"service {uuid}")
        log.info("pairing agent authorised service device=%s uuid=%s", address, uuid)

    @method()
    def Cancel(self):  # noqa: N802
        # info: the failed Pair says it again, as the one line the listener reads
        log.info(
            "pairing agent: bluetoothd cancelled its request device=%s",
            _address_of(self.device_path),
        )


def _address_of(path: str) -> str:
    """``/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF`` → ``AA:BB:CC:DD:EE:FF`` (else the path)."""
    leaf = path.rsplit("/", 1)[-1]
    return leaf[4:].replace("_", ":") if leaf.startswith("dev_") else path
