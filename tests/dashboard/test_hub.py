"""The hub hands each change to every open page, numbered: a page's stream starts
with what changed after the change its page was rendered at."""

from __future__ import annotations

import asyncio

from earmark.dashboard.hub import QUEUE, BrokerChanged, Hub, SpeakerChanged


def _drain(page: asyncio.Queue) -> list:
    out = []
    while not page.empty():
        out.append(page.get_nowait())
    return out


def test_a_stream_starts_with_what_changed_after_its_page() -> None:
    async def main() -> None:
        hub = Hub()
        hub.attach(asyncio.get_running_loop())
        for name in ("a", "b", "c"):
            hub.tell(SpeakerChanged(name))
        await asyncio.sleep(0)  # the fan-out runs on the loop
        assert hub.sequence == 3
        assert _drain(hub.listen(after=1)) == [SpeakerChanged("b"), SpeakerChanged("c")]
        assert _drain(hub.listen(after=3)) == []
        # no number, or one from an earlier run of the dashboard: only what comes
        assert _drain(hub.listen()) == []
        assert _drain(hub.listen(after=99)) == []
        late = hub.listen(after=3)
        hub.tell(BrokerChanged(False, "gone"))
        await asyncio.sleep(0)
        assert _drain(late) == [BrokerChanged(False, "gone")]

    asyncio.run(main())


def test_a_page_rendered_longer_ago_than_the_hub_remembers_gets_no_replay() -> None:
    async def main() -> None:
        hub = Hub()
        hub.attach(asyncio.get_running_loop())
        for n in range(QUEUE + 5):
            hub.tell(SpeakerChanged(str(n)))
        await asyncio.sleep(0)
        assert _drain(hub.listen(after=2)) == []  # too old to replay: only what comes
        assert len(_drain(hub.listen(after=5))) == QUEUE  # the oldest kept is number 6

    asyncio.run(main())
