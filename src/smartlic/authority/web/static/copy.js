// Copy buttons of the management pages (served from /portal/static: the Content-Security-Policy
// allows no inline script). <button data-copy="ID"> copies the value of the field #ID and says
// so; where the clipboard is refused (a page not served over HTTPS), the field is selected for
// Ctrl+C / Cmd+C instead.
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.focus();
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Press Ctrl+C to copy";
  }
});
