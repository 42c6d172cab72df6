// The portal's only script, served from /portal/static (the Content-Security-Policy allows no
// inline script). Everything works without it; it adds conveniences:
// - a field marked data-select-on-focus selects its text when focused;
// - a button with data-copy="ID" copies the value of the field #ID to the clipboard and says so
//   (its label becomes "Copied", and an element with data-copy-status="ID" tells more); where
//   the clipboard is refused, the field is selected for Ctrl+C / Cmd+C instead.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (
    (field instanceof HTMLTextAreaElement || field instanceof HTMLInputElement) &&
    field.hasAttribute("data-select-on-focus")
  ) {
    field.select();
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const id = button.getAttribute("data-copy");
  const field = document.getElementById(id);
  if (!field) return;
  const status = document.querySelector(`[data-copy-status="${id}"]`);
  field.focus();
  field.select();
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value);
    copied = true;
  } catch {
    copied = document.execCommand("copy");
  }
  button.textContent = copied ? "Copied" : "Press Ctrl+C to copy";
  if (status) status.textContent = copied ? "Copied to the clipboard." : "Select the text and press Ctrl+C.";
});
