/* Sidebar buttons that work on every screen.
 *
 * sphinx-book-theme 1.3 puts its own "toggle primary sidebar" and "toggle
 * secondary sidebar" buttons in the article header, and pydata-sphinx-theme
 * 0.17 adds a second pair to its navbar. Both themes wire only the FIRST
 * element of each class (document.querySelector), which is the navbar pair,
 * hidden at every width, so the visible buttons did nothing: no chapter list
 * or contents on a phone or tablet, no collapsing the sidebar on a desktop
 * (sphinx-book-theme #988, #917; pydata-sphinx-theme #2451).
 *
 * A click on any other button of the class is forwarded to the wired one,
 * which then runs the themes' own code (a modal drawer below 992 px, a
 * collapse above). If a future theme wires the visible button itself, its
 * handler has already called preventDefault and nothing is forwarded.
 */
document.addEventListener("DOMContentLoaded", () => {
  for (const name of ["primary-toggle", "secondary-toggle"]) {
    const [wired, ...others] = document.querySelectorAll(`button.${name}`);
    if (!wired) continue;
    for (const button of others) {
      button.addEventListener("click", (event) => {
        if (event.defaultPrevented) return;
        event.preventDefault();
        wired.click();
      });
    }
  }
});
