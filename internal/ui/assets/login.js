// login.js: shows a fixed message for ?error= (never the query's own text)
// and passes ?next= on when it is a path of this UI.

const messages = {
  bad: "Wrong user or password.",
  limited: "Too many failed attempts from this address. Wait a little, then try again.",
  expired: "Your session ended. Log in again.",
};

const params = new URLSearchParams(location.search);
const err = document.getElementById("error");
const m = messages[params.get("error")];
if (m) {
  err.textContent = m;
  err.hidden = false;
}
const next = params.get("next") || "";
if (next.startsWith("/ui/") && !next.startsWith("//")) document.getElementById("next").value = next;
