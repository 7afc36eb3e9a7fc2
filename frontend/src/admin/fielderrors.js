// The API refuses a task form with one line per field ("Invalid request body: id: String should
// match pattern ..."): written for developers. Here each refusal is shown under its own field, in
// the words of the form's help text.

const FRIENDLY = {
  id: "Use lowercase letters, digits and dashes (at most 63), starting with a letter or digit.",
  name: "Give the task a name.",
  labels: "List the labels, separated by commas.",
  annotators: "List email addresses, separated by commas.",
  annotations_per_sample: "A whole number from 1 up.",
  lease_seconds: "A number of seconds, at least a minute.",
};
const BY_CODE = { task_exists: ["id", "A task with this id exists already: choose another id."] };

/** Which fields an API error is about: [[field, text], ...]; empty when it names none of the form's. */
export function fieldErrors(error, form) {
  if (BY_CODE[error.code]) return [BY_CODE[error.code]];
  if (error.code !== "invalid_body") return [];
  const problems = String(error.message).replace(/^Invalid request body:\s*/, "").split("; ");
  const found = [];
  for (const problem of problems) {
    const field = problem.split(":")[0].split(".")[0].trim();
    if (form.elements[field]) found.push([field, FRIENDLY[field] || problem.slice(field.length + 1).trim()]);
  }
  return found;
}

/** Show errors under their fields (or clear them all with an empty list). */
export function showFieldErrors(form, errors) {
  for (const old of form.querySelectorAll("[data-error-for]")) old.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const [field, text] of errors) {
    const input = form.elements[field];
    const note = Object.assign(document.createElement("span"), { className: "field-error", textContent: text });
    note.dataset.errorFor = field;
    note.id = `error-${field}`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", note.id);
    input.insertAdjacentElement("afterend", note);
  }
  errors.length && form.elements[errors[0][0]].focus();
}
