// earmark dashboard: the little that htmx does not do. No inline scripts anywhere
// (the Content-Security-Policy forbids them), so every hook is a data- attribute.
"use strict";

document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    copyText(copy);
    return;
  }
  const playAll = event.target.closest("[data-playlist]");
  if (playAll) playInTurn(document.getElementById(playAll.dataset.playlist));
});

// "Copy as text": the text is fetched when asked for (data-copy is its URL), not
// carried in every card. A ClipboardItem takes the text still on its way, so the
// copy counts as part of the click even when the fetch takes a while.
function copyText(button) {
  const text = fetch(button.dataset.copy, { headers: { Accept: "text/plain" } }).then((r) =>
    r.ok ? r.text() : Promise.reject(new Error(`${r.status}`))
  );
  const copied =
    typeof ClipboardItem === "function" && navigator.clipboard?.write
      ? navigator.clipboard.write([
          new ClipboardItem({
            "text/plain": text.then((t) => new Blob([t], { type: "text/plain" })),
          }),
        ])
      : text.then((t) => navigator.clipboard.writeText(t));
  copied.then(
    () => { button.textContent = "Copied"; },
    () => { button.textContent = "Could not copy"; }
  );
}

// "the best highlights of this episode": each clip plays, then the next
function playInTurn(container) {
  const clips = [...container.querySelectorAll("audio.clip")];
  clips.forEach((clip, i) => {
    clip.onended = () => { if (clips[i + 1]) clips[i + 1].play(); };
  });
  if (clips[0]) clips[0].play();
}

// a lost live stream says so; htmx reconnects by itself
document.addEventListener("htmx:sse:error", () => {
  const banner = document.getElementById("broker");
  if (banner && !banner.textContent.trim()) {
    banner.className = "banner warn";
    banner.textContent = "Live updates lost; reconnecting…";
  }
});
document.addEventListener("htmx:sse:after:connection", () => {
  const banner = document.getElementById("broker");
  if (banner && banner.textContent.startsWith("Live updates lost")) {
    banner.className = "banner ok";
    banner.textContent = "";
  }
});

// a highlight that arrives live comes in a group of its own at the top: the cards
// its episode already shows further down move into it (moved, not re-rendered, so
// a clip playing there keeps playing)
function joinEpisodeGroups(list) {
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const added of change.addedNodes) {
        if (!(added instanceof HTMLElement) || !added.dataset.episode) continue;
        const snips = added.querySelector(".snips");
        // a card the page already shows may come again (the stream starts from the
        // change the page was rendered at): the newer one stays
        for (const card of snips.querySelectorAll(":scope > [id]")) {
          for (const twin of list.querySelectorAll(`[id="${card.id}"]`)) {
            if (twin !== card) twin.remove();
          }
        }
        for (const older of list.querySelectorAll(".episode")) {
          if (older === added || older.dataset.episode !== added.dataset.episode) continue;
          snips.append(...older.querySelector(".snips").children);
          older.remove();
        }
      }
    }
  }).observe(list, { childList: true });
}
const highlightList = document.getElementById("highlights");
if (highlightList) joinEpisodeGroups(highlightList);
