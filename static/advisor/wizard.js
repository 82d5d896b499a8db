// After htmx swaps in a new wizard step, move focus to its heading so keyboard
// and screen-reader users start reading the new question; the step status is
// announced by its aria-live region. A new step also means the last request
// worked, so any request error shown for the old step goes.
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.detail.target?.id !== "wizard") {
    return;
  }
  document.getElementById("request-error")?.remove();
  document.querySelector("#wizard [data-focus]")?.focus();
});

// htmx neither swaps nor says anything when a request fails, so the person
// would press Continue and see nothing happen. Say what went wrong beside the
// form instead, and leave the form as it is so no choice is lost.
document.addEventListener("htmx:responseError", (event) => {
  showRequestError(event.detail.elt, errorMessage(event.detail.xhr));
});

document.addEventListener("htmx:sendError", (event) => {
  showRequestError(event.detail.elt, errorMessage(null));
});

function errorMessage(xhr) {
  const status = xhr?.status ?? 0;
  if (status === 0) {
    return "The server could not be reached. Check your connection, then try again.";
  }
  if (status === 403) {
    return (
      "This page's security token has expired or your session has changed. " +
      "Reload the page and answer this step again: the answers you saved before are kept."
    );
  }
  if (status === 429) {
    return (
      "Too many requests came from your network in a short time. " +
      `Wait ${waitPhrase(xhr)}, then try again.`
    );
  }
  if (status === 400 || status === 413) {
    return "The server refused the request as malformed or too large. Reload the page and try again.";
  }
  if (status === 502 || status === 503 || status === 504) {
    return (
      "The service is unavailable for a moment. " +
      "Nothing you saved before is lost: wait a moment, then try again."
    );
  }
  if (status >= 500) {
    return "Something went wrong on the server. Nothing you saved before is lost: try again.";
  }
  return `The request could not be completed (HTTP ${status}). Reload the page and try again.`;
}

// The rate limit says how long to wait in Retry-After; short waits read better as "a minute".
function waitPhrase(xhr) {
  const seconds = Number.parseInt(xhr.getResponseHeader("Retry-After") ?? "", 10);
  if (!(seconds >= 90)) {
    return "a minute";
  }
  return `about ${Math.round(seconds / 60)} minutes`;
}

// One alert region, reused so messages never stack. It sits before the step's
// form, or at the top of the step when the request came from a link. A new
// paragraph each time makes screen readers announce a repeated message again.
function showRequestError(source, message) {
  let region = document.getElementById("request-error");
  if (!region) {
    region = document.createElement("div");
    region.id = "request-error";
    region.className = "request-error";
    region.setAttribute("role", "alert");
    placeRegion(region, source);
  }
  const text = document.createElement("p");
  text.textContent = message;
  region.replaceChildren(text);
  region.scrollIntoView({ block: "nearest" });
}

function placeRegion(region, source) {
  const form = source?.closest?.("form[hx-post]") ?? document.querySelector("#wizard form[hx-post]");
  if (form) {
    form.before(region);
    return;
  }
  const container = document.querySelector("#wizard .step") ?? document.getElementById("main");
  container.prepend(region);
}
