// The console's own script: "select all" for bulk forms, upload progress, error messages.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.matches("[data-select-all]")) return;
  const scope = document.getElementById(box.dataset.selectAll);
  scope?.querySelectorAll("input[type=checkbox][name=case_ids]").forEach((each) => {
    each.checked = box.checked;
  });
});

// Upload progress for forms with a <progress data-upload> (htmx reports the XHR's progress).
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = event.target.querySelector?.("progress[data-upload]");
  if (bar && event.detail.lengthComputable) {
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  }
});

// htmx does not swap error responses; say what happened where the result would have gone.
document.addEventListener("htmx:responseError", (event) => {
  const target = event.detail.target;
  if (!target) return;
  const status = event.detail.xhr.status;
  const problem = document.createElement("div");
  problem.className = "problem";
  problem.setAttribute("role", "alert");
  problem.textContent = status === 413
    ? "Refused: the upload is larger than this server accepts (HTTP 413)."
    : `The server refused this (HTTP ${status}).`;
  target.replaceChildren(problem);
});
