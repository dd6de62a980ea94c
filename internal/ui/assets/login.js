// Placeholder: shows a fixed message for ?error= and carries ?next= into
// the form. The UI's page set replaces it.
const texts = {
  bad: "Wrong user or password.",
  limited: "Too many failed logins from your address: wait a little and try again.",
  expired: "Your session ended: log in again.",
};
const q = new URLSearchParams(location.search);
const msg = document.getElementById("message");
const text = texts[q.get("error")];
if (text) {
  msg.textContent = text;
  msg.hidden = false;
}
const next = q.get("next");
if (next && next.startsWith("/ui/")) {
  document.getElementById("next").value = next;
}
