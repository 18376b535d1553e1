// Package inspector is the inspector page of `switchboard dev` and
// `switchboard serve`: the live connections of a gateway.Server (identity,
// the application's annotations, bytes in and out), a live stream of its
// events and frames (Server-Sent Events), each invocation's event and
// response JSON, and a form to post to or disconnect a connection through
// the same code as the management API.
//
// The page is static files embedded in the binary (web/: no build step),
// served with a strict Content-Security-Policy; user data is only ever set
// as text. Everything under Path is served through gateway.Server.Protect:
// loopback clients not behind a proxy, with a Host that names the server
// (DNS rebinding) and no foreign Origin (docs/inspector.md says why there
// is no signed access from other machines).
package inspector
