package ui

import (
	"net/http"
	"strings"
)

// Origin is the handler of the UI's own origin (funcd up --ui-listen): gw
// (a gateway with the UI mounted and sessions accepted) serves the UI and
// /system. Invocations pass for the page's invoke panel, but never as a
// page of this origin, whose script could read the session's CSRF token:
// a browser's navigation to one is refused, and every answer is
// sandboxed (CSP sandbox: an opaque origin, if rendered at all). The
// proxy answers them without taking the connection over, which would
// move it to the main listener.
func Origin(gw http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/function/") && !strings.HasPrefix(r.URL.Path, "/async-function/") {
			gw.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Content-Security-Policy", "sandbox")
		if navigation(r) {
			http.Error(w, "functions' pages are not opened on the UI's address: use funcd's main address (--listen)", http.StatusForbidden)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Del(CSRFHeader)
		gw.ServeHTTP(noHijack{w}, r)
	})
}

// navigation reports whether a browser loads r as a page, frame or
// anything but a fetch. Browsers set Sec-Fetch-* themselves; scripts
// cannot.
func navigation(r *http.Request) bool {
	mode, dest := r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest")
	return mode == "navigate" || mode == "nested-navigate" || (dest != "" && dest != "empty")
}

// noHijack hides the connection from the proxy (it answers through w)
// while letting it flush.
type noHijack struct{ http.ResponseWriter }

func (n noHijack) FlushError() error { return http.NewResponseController(n.ResponseWriter).Flush() }
