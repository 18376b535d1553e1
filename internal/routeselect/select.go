package routeselect

// Select evaluates the expression against a WebSocket message body.
// ok is false when body is not valid JSON (the gateway then routes to $default).
func (e *Expr) Select(body []byte) (key string, ok bool) {
	var capBuf [8]span
	caps := capBuf[:0]
	if e.ncap <= len(capBuf) {
		caps = capBuf[:e.ncap]
	} else {
		caps = make([]span, e.ncap)
	}
	for k := range caps {
		caps[k] = missing
	}
	if !e.scan(body, caps) {
		return "", false
	}
	if len(e.parts) == 1 && e.parts[0].capture >= 0 {
		return valueString(body, caps[e.parts[0].capture]), true
	}
	var buf [256]byte
	out := buf[:0]
	for _, p := range e.parts {
		if p.capture < 0 {
			out = append(out, p.lit...)
		} else {
			out = appendTop(out, body, caps[p.capture])
		}
	}
	return string(out), true
}
