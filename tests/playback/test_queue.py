"""The up-next queue as pure logic."""

from __future__ import annotations

from earmark.playback import QueueItem, UpNext


def item(n: int) -> QueueItem:
    return QueueItem(n, f"/episodes/{n}.mp3")


def test_queue_plays_in_order_and_steps_back():
    queue = UpNext([item(1), item(2), item(3)])
    assert queue.current == item(1)
    assert queue.next() == item(2)
    assert queue.next() == item(3)
    assert queue.next() is None
    assert queue.previous() == item(2)


def test_queue_continues_with_the_newest_unplayed_episode_when_it_runs_out():
    asked: list[list[int]] = []

    def newest_unplayed(queued):
        asked.append(list(queued))
        return item(9)

    queue = UpNext([item(1)], continue_with=newest_unplayed)
    assert queue.next() == item(9)
    assert asked == [[1]] and queue.current == item(9)


def test_adding_a_queued_episode_moves_it_instead_of_doubling_it():
    queue = UpNext([item(1), item(2), item(3)])
    queue.add(item(1))
    assert [i.episode_id for i in queue.items] == [2, 3, 1]
    assert queue.current == item(1)


def test_reorder_and_remove_keep_the_current_episode():
    queue = UpNext([item(1), item(2), item(3), item(4)], current=1)
    queue.move(4, 0)
    assert [i.episode_id for i in queue.items] == [4, 1, 2, 3] and queue.current == item(2)
    queue.remove(1)
    assert queue.current == item(2)
    queue.remove(2)  # the current one: the next becomes current
    assert queue.current == item(3)
    queue.play_next(item(7))
    assert queue.next() == item(7)
    assert not queue.remove(42)


def test_burst_of_100_next_and_previous_ends_in_range():
    queue = UpNext([item(n) for n in range(5)])
    expected = 0  # each press moves one step and stops at either end
    for i in range(100):
        if i % 3:
            at_last = expected == 4
            got = queue.next()
            expected = min(expected + 1, 4)
            # on the last episode "next" finds nothing and stays there
            assert got == (None if at_last else item(expected))
        else:
            got = queue.previous()
            expected = max(expected - 1, 0)
            assert got == item(expected)
        assert queue.current_index == expected
    # two steps on for every step back: the burst ends one before the last
    assert queue.current == item(3)
