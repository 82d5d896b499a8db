// After htmx swaps in a new wizard step, move focus to its heading so keyboard
// and screen-reader users start reading the new question; the step status is
// announced by its aria-live region.
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.detail.target?.id !== "wizard") {
    return;
  }
  document.querySelector("#wizard [data-focus]")?.focus();
});
