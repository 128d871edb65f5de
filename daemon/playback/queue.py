"""The "up next" queue: pure logic, persisted by the caller.

Items are episodes (id and source). When the queue runs out, an optional hook
supplies what comes next (e.g. the newest unplayed episode), so autoplay is a
policy of the caller, not of the queue.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueItem:
    episode_id: int
    source: str


# given the ids already queued, the episode to continue with, or None
ContinueWith = Callable[[Collection[int]], QueueItem | None]


class UpNext:
    def __init__(
        self,
        items: list[QueueItem] | None = None,
        current: int | None = None,
        continue_with: ContinueWith | None = None,
    ) -> None:
        # the current index is None only when the queue is empty
        self._items: list[QueueItem] = []
        self._current: int | None = None
        for item in items or []:
            self.add(item)
        if current is not None and 0 <= current < len(self._items):
            self._current = current
        self.continue_with = continue_with

    @property
    def items(self) -> tuple[QueueItem, ...]:
        return tuple(self._items)

    @property
    def current_index(self) -> int | None:
        return self._current

    @property
    def current(self) -> QueueItem | None:
        return self._items[self._current] if self._current is not None else None

    def add(self, item: QueueItem, index: int | None = None) -> None:
        """Queue ``item`` at ``index`` (default: the end); an episode queued
        twice moves instead of appearing twice."""
        if any(i.episode_id == item.episode_id for i in self._items):
            self.move(item.episode_id, len(self._items) if index is None else index)
            return
        at = len(self._items) if index is None else max(0, min(index, len(self._items)))
        self._items.insert(at, item)
        if self._current is None:
            self._current = at
        elif at <= self._current and len(self._items) > 1:
            self._current += 1

    def play_next(self, item: QueueItem) -> None:
        """Queue ``item`` right after the current episode."""
        self.add(item, 0 if self._current is None else self._current + 1)

    def remove(self, episode_id: int) -> bool:
        at = self._index(episode_id)
        if at is None:
            return False
        del self._items[at]
        if self._current is None:
            pass
        elif not self._items:
            self._current = None
        elif at < self._current:
            self._current -= 1
        else:  # the removed one was current (the next becomes current) or later
            self._current = min(self._current, len(self._items) - 1)
        return True

    def move(self, episode_id: int, index: int) -> bool:
        at = self._index(episode_id)
        if at is None:
            return False
        current = self.current
        item = self._items.pop(at)
        self._items.insert(max(0, min(index, len(self._items))), item)
        if current is not None:
            self._current = self._index(current.episode_id)
        return True

    def next(self) -> QueueItem | None:
        """Advance and return the new current item; at the end, ask the hook."""
        if self._current is not None and self._current + 1 < len(self._items):
            self._current += 1
            return self._items[self._current]
        if self.continue_with is not None:
            found = self.continue_with([i.episode_id for i in self._items])
            if found is not None and self._index(found.episode_id) is None:
                self._items.append(found)
                self._current = len(self._items) - 1
                return found
        return None

    def select(self, episode_id: int) -> bool:
        """Make the queued ``episode_id`` the current item."""
        index = self._index(episode_id)
        if index is None:
            return False
        self._current = index
        return True

    def previous(self) -> QueueItem | None:
        if self._current is None:
            return None
        self._current = max(0, self._current - 1)
        return self._items[self._current]

    def _index(self, episode_id: int) -> int | None:
        for i, item in enumerate(self._items):
            if item.episode_id == episode_id:
                return i
        return None
