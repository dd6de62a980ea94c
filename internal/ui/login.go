package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxFormBytes caps the login and logout forms.
const maxFormBytes = 16 << 10

// loginPage serves the login form. It holds no data: the message for
// ?error= is picked by its script from fixed texts.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.serveAsset(w, r, "login.html")
}

// login checks the form's user and password. Success starts a session and
// goes to next; failure goes back to the form; too many failures from one
// address are refused for a while (see limiter) without being checked.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad login form: "+err.Error(), http.StatusBadRequest)
		return
	}
	addr := clientKey(r.RemoteAddr)
	if wait := h.limiter.wait(addr, h.now()); wait > 0 {
		h.limited(w, wait)
		return
	}
	creds := h.sessions.creds.Current()
	if !creds.Match(r.PostForm.Get("user"), r.PostForm.Get("password")) {
		h.limiter.failed(addr, h.now())
		h.log.Warn("failed login", "client", addr)
		http.Redirect(w, r, "/ui/login?error=bad", http.StatusSeeOther)
		return
	}
	h.limiter.succeeded(addr)
	token, err := h.sessions.create(creds.User, creds.Fingerprint())
	if err != nil {
		h.log.Error("start session", "err", err)
		http.Error(w, "Internal Server Error: see the funcd log for details", http.StatusInternalServerError)
		return
	}
	for _, p := range CookiePaths {
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: p, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	next := r.PostForm.Get("next")
	if !validNext(next) {
		next = "/ui/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// limited answers a login refused for too many failures: 429 with
// Retry-After, and a small page that says so and links back to the form.
func (h *Handler) limited(w http.ResponseWriter, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Too many failed logins - funcd</title><link rel="stylesheet" href="/ui/app.css"></head>
<body><main class="login"><h1>Too many failed logins</h1>
<p>Too many failed logins came from your address. Try again in %d seconds.</p>
<p><a href="/ui/login?error=limited">Back to the login form</a></p></main></body></html>
`, secs)
}

// logout ends the session (it needs the CSRF token, as a header or the
// form field csrf) and clears the cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if ss := h.sessions.lookup(r); ss != nil {
		got := r.Header.Get(CSRFHeader)
		if got == "" {
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad logout form: "+err.Error(), http.StatusBadRequest)
				return
			}
			got = r.PostForm.Get("csrf")
		}
		if !ss.csrfMatches(got) {
			http.Error(w, "missing or wrong "+CSRFHeader+" header (or csrf form field)", http.StatusForbidden)
			return
		}
		h.sessions.end(r)
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	for _, p := range CookiePaths {
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: p, MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
}

// CookiePaths are where the browser sends the session cookie: the UI and
// the API it calls, never /function/: a function would get the admin's
// session with every invocation the UI's invoke panel makes, and could
// use it.
var CookiePaths = []string{"/ui/", "/system/"}

// validNext reports whether next may be where a login goes: a path of
// this site under /ui/, so that a link to the login form cannot send the
// admin elsewhere (//host, a scheme, a backslash some browsers read as a
// slash, dot segments out of /ui/).
func validNext(next string) bool {
	if !strings.HasPrefix(next, "/ui/") || len(next) > 2048 {
		return false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	p, _, _ := strings.Cut(next, "?")
	p, _, _ = strings.Cut(p, "#")
	if strings.Contains(p, "//") || strings.Contains(p, "%") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	_, err := url.Parse(next)
	return err == nil
}

// loginURL is the login form that comes back to r's page afterwards.
func loginURL(r *http.Request) string {
	next := r.URL.RequestURI()
	if next == "/ui/" || !validNext(next) {
		return "/ui/login"
	}
	return "/ui/login?next=" + url.QueryEscape(next)
}
