// The portal's only script, served from /portal/static (the Content-Security-Policy allows no
// inline script). Everything works without it; it adds conveniences:
// - a field marked data-select-on-focus selects its text when focused;
// - a button with data-copy="ID" copies the text of the field ID to the clipboard and says so.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLTextAreaElement && field.hasAttribute("data-select-on-focus")) {
    field.select();
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  const id = button.getAttribute("data-copy");
  const field = document.getElementById(id);
  const status = document.querySelector(`[data-copy-status="${id}"]`);
  if (!field) return;
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value ?? field.textContent);
    copied = true;
  } catch {
    field.select();
    copied = document.execCommand("copy");
  }
  if (status) status.textContent = copied ? "Copied to the clipboard." : "Select the text and press Ctrl+C.";
});
