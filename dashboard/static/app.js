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

// a card's part fetched when its <details data-part> opens (hx-trigger "toggle"): the
// fetch goes only while the part is open and not yet loaded, so a failed one is said
// in the part and opening it again tries again; once loaded it is not fetched again.
// Events from inside a part (the Edit form's own post) bubble here too: not ours.
function partOf(event) {
  const part = event.target;
  return part instanceof HTMLDetailsElement && part.dataset.part ? part : null;
}

function sayNotLoaded(part, why, todo = "close and open it to try again") {
  const said = document.createElement("p");
  said.className = "error";
  said.setAttribute("role", "alert");
  said.textContent = `Could not load ${part.dataset.part} (${why}); ${todo}.`;
  part.querySelector(".lazy").replaceChildren(said);
}

document.addEventListener("htmx:before:request", (event) => {
  const part = partOf(event);
  if (!part) return;
  if (!part.open || "loaded" in part.dataset) {
    event.preventDefault();
    return;
  }
  part.querySelector(".lazy").replaceChildren(); // "Loading…" where a failure was said
});
document.addEventListener("htmx:after:request", (event) => {
  const part = partOf(event);
  if (!part) return;
  const status = event.detail.ctx.response.status;
  if (status < 400) {
    part.dataset.loaded = "";
  } else if (status === 401) {
    event.preventDefault();
    sayNotLoaded(part, "signed out", "reload the page to sign in");
  } else if (status !== 404) {
    // a 404 is the dashboard's own line (the highlight was deleted or is not here),
    // swapped in by htmx; anything else is not shown as it came
    event.preventDefault();
    sayNotLoaded(part, `the dashboard answered ${status}`);
  }
});
document.addEventListener("htmx:error", (event) => {
  const part = partOf(event);
  if (!part) return;
  delete part.dataset.loaded; // a swap that failed did not load it either
  sayNotLoaded(part, "the dashboard did not answer");
});

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
