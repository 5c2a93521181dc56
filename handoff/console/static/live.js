// Live updates for the console: listens to /console/events (Server-Sent Events) and swaps in
// the server-rendered fragment of the queue or the conversation when it changes.
// The pages work without this file; it only saves the agent from pressing "Refresh".
(function () {
  "use strict";

  var QUEUE_REFRESH_MS = 60000; // waiting times and SLA deadlines move with the clock

  function swap(section) {
    var url = section.getAttribute("data-live-fragment");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/console");
          return;
        }
        if (!response.ok || response.redirected) {
          return;
        }
        return response.text().then(function (html) {
          var atBottom =
            window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
          section.innerHTML = html; // escaped by the server's templates
          section.setAttribute("data-live-updated", new Date().toISOString());
          if (atBottom) {
            window.scrollTo(0, document.body.scrollHeight);
          }
        });
      })
      .catch(function () {
        /* offline for a moment: the next event or the refresh link will do */
      });
  }

  function listen(section) {
    if (!window.EventSource) {
      return;
    }
    var source = new EventSource(section.getAttribute("data-live-events"));
    var refresh = function () {
      swap(section);
    };
    source.addEventListener("conversation", refresh);
    source.addEventListener("queue", refresh);
    window.addEventListener("pagehide", function () {
      source.close();
    });
    if (section.id === "live-queue") {
      window.setInterval(refresh, QUEUE_REFRESH_MS);
    }
  }

  function start() {
    var sections = document.querySelectorAll("[data-live-events][data-live-fragment]");
    for (var i = 0; i < sections.length; i += 1) {
      listen(sections[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
