// The console's only script of its own: "select all" for bulk forms. Everything else is htmx.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.matches("[data-select-all]")) return;
  const scope = document.getElementById(box.dataset.selectAll);
  scope?.querySelectorAll("input[type=checkbox][name=case_ids]").forEach((each) => {
    each.checked = box.checked;
  });
});
