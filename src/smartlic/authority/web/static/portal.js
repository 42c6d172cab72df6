// The portal's only script, served from /portal/static (the Content-Security-Policy allows no
// inline script). A field marked data-select-on-focus selects its text when focused, so a new
// registration token is copied with one click and Ctrl+C.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLTextAreaElement && field.hasAttribute("data-select-on-focus")) {
    field.select();
  }
});
