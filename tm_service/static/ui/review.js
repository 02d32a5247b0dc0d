// Keyboard review for tm-service's queue: j/k (or ↓/↑) move, 1–9 pick a candidate,
// a accept, e edit (Ctrl+Enter saves, Esc cancels), r reject, u undo the last decision.
// Plain forms underneath: everything also works with the mouse and without this script.
"use strict";

(function () {
  const segments = Array.from(document.querySelectorAll(".segment"));
  if (segments.length === 0) {
    return;
  }
  let current = -1;
  let submitting = false;

  function setCurrent(index, focus) {
    if (index < 0 || index >= segments.length) {
      return;
    }
    if (current >= 0) {
      segments[current].classList.remove("current");
    }
    current = index;
    const segment = segments[current];
    segment.classList.add("current");
    if (focus !== false) {
      segment.focus({ preventScroll: true });
      segment.scrollIntoView({ block: "nearest" });
    }
  }

  function candidates(segment) {
    return Array.from(segment.querySelectorAll(".candidate"));
  }

  function selectedText(segment) {
    const chosen = segment.querySelector(".candidate.selected .target");
    return chosen ? chosen.textContent : "";
  }

  function pick(segment, number) {
    const all = candidates(segment);
    if (number >= all.length) {
      return;
    }
    all.forEach(function (item, i) {
      item.classList.toggle("selected", i === number);
    });
    segment.querySelectorAll("input.picked").forEach(function (input) {
      input.value = all[number].dataset.index;
    });
    const textarea = segment.querySelector(".edit textarea");
    if (textarea && !textarea.dataset.dirty) {
      textarea.value = selectedText(segment);
    }
  }

  function submit(form) {
    if (!form || submitting) {
      return;
    }
    if (form.requestSubmit) {
      form.requestSubmit();
    } else {
      submitting = true;
      form.submit();
    }
  }

  function say(segment, message) {
    let note = segment.querySelector(".key-note");
    if (!note) {
      note = document.createElement("p");
      note.className = "key-note";
      note.setAttribute("role", "status");
      segment.appendChild(note);
    }
    note.textContent = message;
  }

  function accept(segment) {
    const form = segment.querySelector(".candidate.selected .accept-form");
    if (form) {
      submit(form);
    } else {
      say(segment, "Nothing to accept here: press e to translate it, or r to reject it.");
    }
  }

  function edit(segment) {
    const details = segment.querySelector("details.edit");
    if (!details) {
      return;
    }
    details.open = true;
    const textarea = details.querySelector("textarea");
    if (!textarea.dataset.dirty && !textarea.value) {
      textarea.value = selectedText(segment);
    }
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function cancelEdit(textarea) {
    const segment = textarea.closest(".segment");
    const details = textarea.closest("details.edit");
    if (details) {
      details.open = false;
    }
    if (segment) {
      setCurrent(segments.indexOf(segment));
    }
  }

  document.addEventListener("submit", function (event) {
    if (submitting) {
      event.preventDefault(); // one decision per key press: no double posts
      return;
    }
    submitting = true;
  });

  window.addEventListener("pageshow", function () {
    submitting = false; // coming back through the browser's history
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches(".edit textarea")) {
      event.target.dataset.dirty = "1";
    }
  });

  segments.forEach(function (segment, index) {
    segment.addEventListener("focusin", function () {
      if (current !== index) {
        setCurrent(index, false);
      }
    });
    segment.addEventListener("click", function (event) {
      const item = event.target.closest(".candidate");
      if (item && !event.target.closest("a, button")) {
        pick(segment, candidates(segment).indexOf(item));
      }
      if (current !== index) {
        setCurrent(index, false);
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (target.closest && target.closest("textarea, input, select, [contenteditable]")) {
      if (target.matches("textarea") && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit(target.form);
      } else if (target.matches("textarea") && event.key === "Escape") {
        event.preventDefault();
        cancelEdit(target);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const segment = segments[current];
    switch (event.key) {
      case "j":
      case "ArrowDown":
        setCurrent(current + 1);
        break;
      case "k":
      case "ArrowUp":
        setCurrent(current - 1);
        break;
      case "a":
        accept(segment);
        break;
      case "e":
        edit(segment);
        break;
      case "r":
        submit(segment.querySelector(".reject-form"));
        break;
      case "u":
        submit(document.querySelector(".undo-form"));
        break;
      default:
        if (/^[1-9]$/.test(event.key)) {
          pick(segment, Number(event.key) - 1);
        } else {
          return;
        }
    }
    event.preventDefault();
  });

  // Start on the segment the server named (#s-ID after a decision), an edit that failed, or the first.
  const named = window.location.hash.startsWith("#s-")
    ? document.getElementById(window.location.hash.slice(1))
    : null;
  const failed = document.querySelector('.segment[data-focus="edit"]');
  if (failed) {
    setCurrent(segments.indexOf(failed));
    edit(failed);
  } else {
    setCurrent(named && segments.includes(named) ? segments.indexOf(named) : 0);
  }
})();
