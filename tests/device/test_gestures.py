"""The gesture recogniser on a fake clock: every time below is made up, nothing sleeps."""

from __future__ import annotations

from earmark.config.inputs import PressTiming
from earmark.device.gestures import Gesture, GestureRecogniser, Recognised

TIMING = PressTiming(debounce=0.02, multi_press=0.4, hold=0.8)
ALL = {Gesture.SINGLE, Gesture.DOUBLE, Gesture.TRIPLE, Gesture.LONG}


class Finger:
    """Presses a recogniser at made-up times and collects what it reports."""

    def __init__(self, gestures: set[Gesture] = ALL, timing: PressTiming = TIMING) -> None:
        self.recogniser = GestureRecogniser(timing, gestures)
        self.seen: list[Recognised] = []
        self.now = 0.0

    def edge(self, pressed: bool, at: float) -> None:
        self.now = at
        self.seen += self.recogniser.edge(pressed, at)

    def tap(self, at: float, length: float = 0.05, bounces: int = 0) -> None:
        """A press at ``at``; with ``bounces``, the contacts chatter within 5 ms each way."""
        for when, pressed in ((at, True), (at + length, False)):
            for i in range(bounces):
                self.edge(pressed, when + i * 0.001)
                self.edge(not pressed, when + i * 0.001 + 0.0005)
            self.edge(pressed, when + bounces * 0.001)

    def wait(self, until: float) -> None:
        self.now = until
        self.seen += self.recogniser.tick(until)

    @property
    def gestures(self) -> list[Gesture]:
        return [r.gesture for r in self.seen]


def test_single_press_is_reported_once_the_double_press_window_passes() -> None:
    finger = Finger()
    finger.tap(1.0)
    finger.wait(1.05 + 0.39)
    assert finger.gestures == []
    finger.wait(1.05 + 0.41)
    assert finger.gestures == [Gesture.SINGLE]
    assert finger.seen[0].at == 1.0


def test_double_and_triple_press() -> None:
    finger = Finger()
    finger.tap(0.0)
    finger.tap(0.2)
    finger.wait(2.0)
    finger.tap(3.0)
    finger.tap(3.2)
    finger.tap(3.4)
    # the most taps mapped: reported once the third release is confirmed (after the
    # debounce time), without waiting for the double-press window
    finger.wait(3.45 + 0.021)
    assert finger.gestures == [Gesture.DOUBLE, Gesture.TRIPLE]
    assert [r.at for r in finger.seen] == [0.0, 3.0]


def test_chattering_contacts_count_as_one_press() -> None:
    finger = Finger()
    finger.tap(0.0, bounces=4)
    finger.wait(1.0)
    assert finger.gestures == [Gesture.SINGLE]


def test_tap_shorter_than_the_bounce_lockout_is_not_lost() -> None:
    finger = Finger()
    finger.edge(True, 0.0)
    finger.edge(False, 0.005)  # inside the lockout: taken when it ends
    finger.wait(0.03)
    assert not finger.recogniser.pressed
    finger.wait(1.0)
    assert finger.gestures == [Gesture.SINGLE]


def test_button_held_for_a_minute_is_one_long_press() -> None:
    finger = Finger()
    finger.edge(True, 0.0)
    finger.wait(0.81)
    assert finger.gestures == [Gesture.LONG]
    for second in range(1, 61):
        finger.wait(float(second))
        # electrical noise while held: a 1 ms glitch is bounce, not a release
        finger.edge(False, second + 0.5)
        finger.edge(True, second + 0.501)
    finger.edge(False, 60.5)
    finger.wait(62.0)
    assert finger.gestures == [Gesture.LONG]


def test_taps_before_a_hold_are_reported_before_the_long_press() -> None:
    finger = Finger()
    finger.tap(0.0)
    finger.edge(True, 0.2)
    finger.wait(1.1)
    assert finger.gestures == [Gesture.SINGLE, Gesture.LONG]


def test_hold_is_a_slow_tap_when_no_long_press_is_mapped() -> None:
    finger = Finger({Gesture.SINGLE, Gesture.DOUBLE})
    finger.tap(0.0, length=3.0)
    finger.wait(4.0)
    assert finger.gestures == [Gesture.SINGLE]


def test_only_single_mapped_reports_at_the_press_itself() -> None:
    finger = Finger({Gesture.SINGLE})
    finger.edge(True, 5.0)
    assert finger.gestures == [Gesture.SINGLE]
    assert finger.seen[0].at == 5.0


def test_twenty_quick_presses_with_only_single_mapped_are_twenty_singles() -> None:
    finger = Finger({Gesture.SINGLE})
    for i in range(20):
        finger.tap(i * 0.05, length=0.025, bounces=2)
    finger.wait(5.0)
    assert finger.gestures == [Gesture.SINGLE] * 20
    assert [r.at for r in finger.seen] == [i * 0.05 for i in range(20)]


def test_twenty_quick_presses_group_into_triples_without_losing_one() -> None:
    finger = Finger()
    for i in range(20):
        finger.tap(i * 0.05, length=0.025, bounces=2)
    finger.wait(5.0)
    assert finger.gestures == [Gesture.TRIPLE] * 6 + [Gesture.DOUBLE]


def test_reset_forgets_a_gesture_in_progress() -> None:
    finger = Finger()
    finger.edge(True, 0.0)
    finger.recogniser.reset()
    finger.wait(5.0)
    assert finger.gestures == []
    assert finger.recogniser.due() is None


def test_no_debounce_takes_every_edge() -> None:
    finger = Finger({Gesture.SINGLE, Gesture.DOUBLE}, PressTiming(0.0, 0.4, 1.0))
    finger.tap(0.0, length=0.001)
    finger.tap(0.002, length=0.001)
    finger.wait(1.0)
    assert finger.gestures == [Gesture.DOUBLE]
