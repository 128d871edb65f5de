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


def _listen(hub: Hub, mark: str | None = None) -> list:
    page, missed = hub.listen(mark)
    assert not missed, mark
    return _drain(page)


def test_a_stream_starts_with_what_changed_after_its_page() -> None:
    async def main() -> None:
        hub = Hub()
        hub.attach(asyncio.get_running_loop())
        hub.tell(SpeakerChanged("a"))
        await asyncio.sleep(0)  # the fan-out runs on the loop
        after_a = hub.mark
        for name in ("b", "c"):
            hub.tell(SpeakerChanged(name))
        await asyncio.sleep(0)
        assert hub.sequence == 3
        assert _listen(hub, after_a) == [SpeakerChanged("b"), SpeakerChanged("c")]
        assert _listen(hub, hub.mark) == []
        assert _listen(hub) == []  # no mark: only what comes, nothing missed
        late = hub.listen(hub.mark)[0]
        hub.tell(BrokerChanged(False, "gone"))
        await asyncio.sleep(0)
        assert _drain(late) == [BrokerChanged(False, "gone")]

    asyncio.run(main())


def test_a_page_of_an_earlier_run_of_the_dashboard_is_told_it_missed_changes() -> None:
    async def main() -> None:
        earlier, hub = Hub(), Hub()
        for h in (earlier, hub):
            h.attach(asyncio.get_running_loop())
            h.tell(SpeakerChanged("a"))
        await asyncio.sleep(0)
        assert earlier.mark != hub.mark  # the same number, another run
        for mark in (earlier.mark, "x", "-1", "", "1-" + "9" * 30):
            page, missed = hub.listen(mark)
            assert missed and _drain(page) == [], mark

    asyncio.run(main())


def test_a_page_rendered_longer_ago_than_the_hub_remembers_is_told_it_missed_changes() -> None:
    async def main() -> None:
        hub = Hub()
        hub.attach(asyncio.get_running_loop())
        marks = []
        for n in range(QUEUE + 5):
            marks.append(hub.mark)  # before change n + 1
            hub.tell(SpeakerChanged(str(n)))
            await asyncio.sleep(0)
        page, missed = hub.listen(marks[2])  # changes 3.. are wanted; 6 is the oldest kept
        assert missed and _drain(page) == []  # only what comes
        assert len(_listen(hub, marks[5])) == QUEUE

    asyncio.run(main())
