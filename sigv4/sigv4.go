// Package sigv4 verifies AWS Signature Version 4 signatures on incoming HTTP requests.
//
// The canonicalization follows what aws-sdk-go-v2's aws/signer/v4 produces for
// non-S3 services (DisableURIPathEscaping=false):
//
//   - canonical URI: the request's escaped path (r.URL.EscapedPath(), i.e. the
//     path as it was on the wire) escaped once more, byte by byte, keeping only
//     A-Z a-z 0-9 - . _ ~ and '/' (so "%40" becomes "%2540" and "@" becomes
//     "%40"). No dot-segment normalization is done, as the SDK does none;
//   - canonical query: every name and value URI-encoded (space as %20), pairs
//     sorted after encoding by name then value;
//   - canonical headers: the names in SignedHeaders, values trimmed with inner
//     runs of spaces collapsed, repeated headers joined with ','; "host" is
//     taken from r.Host;
//   - payload hash: the X-Amz-Content-Sha256 header when present (it must then
//     equal sha256(body) unless it is UNSIGNED-PAYLOAD), else sha256(body).
//
// Both the Authorization header form (AWS4-HMAC-SHA256) and presigned query
// string form (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature) are supported.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sentinel errors. Errors returned by Verify wrap exactly one of these (test
// with errors.Is).
var (
	// ErrMissingAuth: the request carries neither an Authorization header nor
	// presigned query parameters.
	ErrMissingAuth = errors.New("sigv4: missing authentication")
	// ErrMalformedAuth: the Authorization header / presigned parameters (or a
	// header they depend on, such as X-Amz-Date) cannot be parsed, or are
	// missing something required (e.g. host not in SignedHeaders).
	ErrMalformedAuth = errors.New("sigv4: malformed authentication")
	// ErrUnknownKey: the access key id is not in Verifier.Credentials.
	ErrUnknownKey = errors.New("sigv4: unknown access key id")
	// ErrSignatureMismatch: the signature (or X-Amz-Content-Sha256) does not
	// match the request.
	ErrSignatureMismatch = errors.New("sigv4: signature mismatch")
	// ErrExpired: the request time is outside the allowed skew (or the
	// presigned URL is expired or not yet valid).
	ErrExpired = errors.New("sigv4: request time outside allowed window")
	// ErrScope: the credential scope names the wrong service, region, date or
	// terminator.
	ErrScope = errors.New("sigv4: invalid credential scope")
)

// Credentials maps access key ids to secret access keys.
type Credentials map[string]string

// Verifier verifies SigV4-signed requests. Its zero value (with Credentials
// and Service set) is ready to use; it is safe for concurrent use as long as
// its fields are not modified. It caches the signing keys it derives.
type Verifier struct {
	Credentials Credentials
	// Service is the signing name the credential scope must carry, e.g.
	// "execute-api". If empty, "execute-api" is used.
	Service string
	// Region, if non-empty, must equal the credential scope region.
	Region string
	// MaxSkew is the maximum allowed difference between the request time and
	// Now(). Zero or negative means 5 minutes.
	MaxSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// keys holds the *keyCache of derived signing keys, made on first use
	// (an atomic.Value, so that a Verifier stays copyable; copies share it).
	keys atomic.Value
}

// keyCache holds derived signing keys by secret and scope: deriving one takes
// four HMACs, and a key serves every request of its day.
type keyCache struct {
	mu sync.RWMutex
	m  map[signingKeyID]*cachedKey
}

// cachedKey is a derived signing key and HMAC-SHA256 states keyed with it,
// ready for reuse: signing a string to sign then allocates nothing.
type cachedKey struct {
	key  []byte
	macs sync.Pool // of hash.Hash: hmac.New(sha256.New, key)
}

// sum writes HMAC-SHA256(key, data) to out.
func (k *cachedKey) sum(data []byte, out *[sha256.Size]byte) {
	m, ok := k.macs.Get().(hash.Hash)
	if !ok {
		m = hmac.New(sha256.New, k.key)
	}
	m.Reset()
	m.Write(data)
	m.Sum(out[:0])
	k.macs.Put(m)
}

// signingKeyID is what a derived signing key depends on (the terminator is
// always aws4_request).
type signingKeyID struct {
	secret, date, region, service string
}

// maxCachedKeys bounds the signing key cache; it holds about one key per
// credential per day, and starts afresh when full.
const maxCachedKeys = 64

// signingKey returns the SigV4 signing key for secret and scope, derived
// once and then cached.
func (v *Verifier) signingKey(secret, date, region, service string) []byte {
	return v.cachedKey(secret, date, region, service).key
}

// cachedKey returns the cache entry of the signing key for secret and
// scope, deriving the key on first use.
func (v *Verifier) cachedKey(secret, date, region, service string) *cachedKey {
	c, ok := v.keys.Load().(*keyCache)
	if !ok {
		v.keys.CompareAndSwap(nil, &keyCache{})
		c = v.keys.Load().(*keyCache)
	}
	id := signingKeyID{secret, date, region, service}
	c.mu.RLock()
	k, ok := c.m[id]
	c.mu.RUnlock()
	if ok {
		return k
	}
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, terminator)
	k = &cachedKey{key: key}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedKeys {
		c.m = make(map[signingKeyID]*cachedKey)
	}
	c.m[id] = k
	c.mu.Unlock()
	return k
}

// MismatchError is returned (wrapping ErrSignatureMismatch) when the computed
// signature differs from the provided one. It carries the server-side
// canonical request and string to sign for debugging; they are deliberately
// not part of Error() so that they are not echoed to clients by accident.
// Note that CanonicalRequest contains signed header values (including any
// X-Amz-Security-Token), so log it with care.
type MismatchError struct {
	AccessKeyID      string
	CanonicalRequest string
	StringToSign     string
}

func (e *MismatchError) Error() string {
	return "sigv4: signature mismatch: the request signature we calculated does not match the signature provided for access key " + e.AccessKeyID
}

// Unwrap makes errors.Is(err, ErrSignatureMismatch) true.
func (e *MismatchError) Unwrap() error { return ErrSignatureMismatch }

const (
	algorithm       = "AWS4-HMAC-SHA256"
	terminator      = "aws4_request"
	amzDateFormat   = "20060102T150405Z"
	shortDateFormat = "20060102"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	defaultService  = "execute-api"
	defaultMaxSkew  = 5 * time.Minute
	maxPresignTTL   = 7 * 24 * time.Hour

	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
)

// authInfo is the parsed, not yet verified, authentication data.
type authInfo struct {
	accessKeyID   string
	scopeDate     string // YYYYMMDD
	scopeRegion   string
	scopeService  string
	scopeTerm     string
	signedHeaders string // as signed: lower-case names, sorted, ';'-separated
	signature     string // lower-case hex, 64 chars
	presigned     bool
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedAuth}, args...)...)
}

// Verify checks r's SigV4 signature (Authorization: AWS4-HMAC-SHA256 ..., or
// presigned query parameters). body is the full request body, already read by
// the caller; r.Body is not touched. On success it returns the access key id.
func (v *Verifier) Verify(r *http.Request, body []byte) (accessKeyID string, err error) {
	if r == nil || r.URL == nil {
		return "", ErrMissingAuth
	}
	// The query is parsed here, not in parseRequestAuth: a map that does not
	// leave Verify stays off the heap. Most requests have none.
	var query url.Values
	var qerr error
	if r.URL.RawQuery != "" {
		query, qerr = url.ParseQuery(r.URL.RawQuery)
	}
	info, err := parseRequestAuth(r, query, qerr)
	if err != nil {
		return "", err
	}
	headers := indexHeaders(r.Header)
	amzDate, reqTime, err := requestTime(info, query, headers)
	if err != nil {
		return "", err
	}
	if err := v.checkScope(info); err != nil {
		return "", err
	}
	if err := v.checkTime(info, query, amzDate, reqTime); err != nil {
		return "", err
	}
	if info.scopeDate != amzDate[:8] {
		return "", fmt.Errorf("%w: credential date %q does not match request date %q", ErrScope, info.scopeDate, amzDate[:8])
	}

	secret, ok := v.Credentials[info.accessKeyID]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownKey, info.accessKeyID)
	}
	sc := scratches.Get().(*scratch)
	defer func() {
		if cap(sc.buf) <= maxPooledScratch {
			scratches.Put(sc)
		}
	}()
	payloadHeader, err := payloadHash(headers, body, &sc.bodyHash)
	if err != nil {
		return "", err
	}
	buf := appendCanonicalRequest(sc.buf[:0], r, info, query, headers, payloadHeader, sc.bodyHash[:])
	n := len(buf)
	crHash := sha256.Sum256(buf)
	buf = append(buf, algorithm+"\n"...)
	buf = append(buf, amzDate...)
	buf = append(buf, '\n')
	buf = append(buf, info.scopeDate...)
	buf = append(buf, '/')
	buf = append(buf, info.scopeRegion...)
	buf = append(buf, '/')
	buf = append(buf, info.scopeService...)
	buf = append(buf, '/')
	buf = append(buf, info.scopeTerm...)
	buf = append(buf, '\n')
	buf = hex.AppendEncode(buf, crHash[:])
	sc.buf = buf
	canonicalRequest, stringToSign := buf[:n], buf[n:]

	v.cachedKey(secret, info.scopeDate, info.scopeRegion, info.scopeService).sum(stringToSign, &sc.mac)
	// The signature was checked to be 64 lower-case hex characters.
	got := decodeHex32(info.signature)
	if !hmac.Equal(sc.mac[:], got[:]) {
		return "", &MismatchError{
			AccessKeyID:      info.accessKeyID,
			CanonicalRequest: string(canonicalRequest),
			StringToSign:     string(stringToSign),
		}
	}
	return info.accessKeyID, nil
}

// scratch is the memory Verify works in, reused through scratches: the
// canonical request and the string to sign (buf), the body's hash in hex
// and the signature computed.
type scratch struct {
	buf      []byte
	bodyHash [2 * sha256.Size]byte
	mac      [sha256.Size]byte
}

var scratches = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 1024)} }}

// maxPooledScratch is the largest scratch buffer kept for reuse.
const maxPooledScratch = 16 << 10

// parseRequestAuth finds the one authentication mechanism of r (the
// Authorization header or presigned query parameters) and parses it. query
// and qerr are the result of parsing r's query.
func parseRequestAuth(r *http.Request, query url.Values, qerr error) (authInfo, error) {
	authHeaders := r.Header.Values("Authorization")
	_, hasQAlg := query[qAlgorithm]
	_, hasQSig := query[qSignature]
	_, hasQCred := query[qCredential]
	presigned := hasQAlg || hasQSig || hasQCred

	switch {
	case len(authHeaders) == 0 && !presigned:
		if qerr != nil && strings.Contains(r.URL.RawQuery, "X-Amz-") {
			return authInfo{}, malformed("invalid query string: %v", qerr)
		}
		return authInfo{}, fmt.Errorf("%w: no Authorization header and no presigned query parameters", ErrMissingAuth)
	case len(authHeaders) > 0 && presigned:
		return authInfo{}, malformed("only one authentication mechanism is allowed (Authorization header and X-Amz-* query parameters both present)")
	case len(authHeaders) > 1:
		return authInfo{}, malformed("multiple Authorization headers")
	}
	if qerr != nil {
		return authInfo{}, malformed("invalid query string: %v", qerr)
	}

	var (
		info authInfo
		err  error
	)
	if presigned {
		info, err = parsePresigned(query)
	} else {
		info, err = parseAuthorization(authHeaders[0])
	}
	if err != nil {
		return authInfo{}, err
	}
	return info, nil
}

// requestTime returns the request time and its value as used in the string
// to sign (from X-Amz-Date in the query when presigned, else from the
// X-Amz-Date or Date header), and checks that SignedHeaders include host and
// the header the time comes from.
func requestTime(info authInfo, query url.Values, headers headerIndex) (amzDate string, reqTime time.Time, err error) {
	var dateHeader string // lower-case header name that must be signed, "" for presigned
	if info.presigned {
		amzDate = query.Get(qDate)
		if reqTime, err = parseAmzDate(amzDate); err != nil {
			return "", time.Time{}, malformed("invalid %s query parameter %q", qDate, amzDate)
		}
	} else if vals, ok := headers.get("x-amz-date"); ok {
		if len(vals) != 1 {
			return "", time.Time{}, malformed("multiple X-Amz-Date headers")
		}
		amzDate = strings.TrimSpace(vals[0])
		if reqTime, err = parseAmzDate(amzDate); err != nil {
			return "", time.Time{}, malformed("invalid X-Amz-Date header %q (want YYYYMMDD'T'HHMMSS'Z')", amzDate)
		}
		dateHeader = "x-amz-date"
	} else if vals, ok := headers.get("date"); ok {
		if len(vals) != 1 {
			return "", time.Time{}, malformed("multiple Date headers")
		}
		t, perr := http.ParseTime(strings.TrimSpace(vals[0]))
		if perr != nil {
			return "", time.Time{}, malformed("invalid Date header %q", vals[0])
		}
		reqTime = t.UTC()
		amzDate = reqTime.Format(amzDateFormat)
		dateHeader = "date"
	} else {
		return "", time.Time{}, malformed("no X-Amz-Date or Date header")
	}

	// Required signed headers.
	if !signs(info.signedHeaders, "host") {
		return "", time.Time{}, malformed("SignedHeaders must include host")
	}
	if dateHeader != "" && !signs(info.signedHeaders, dateHeader) {
		return "", time.Time{}, malformed("SignedHeaders must include %s", dateHeader)
	}
	return amzDate, reqTime, nil
}

// checkScope checks the credential scope's terminator, service and region.
func (v *Verifier) checkScope(info authInfo) error {
	service := v.Service
	if service == "" {
		service = defaultService
	}
	if info.scopeTerm != terminator {
		return fmt.Errorf("%w: credential should be scoped with a valid terminator %q, not %q", ErrScope, terminator, info.scopeTerm)
	}
	if info.scopeService != service {
		return fmt.Errorf("%w: credential should be scoped to correct service %q, not %q", ErrScope, service, info.scopeService)
	}
	if v.Region != "" && info.scopeRegion != v.Region {
		return fmt.Errorf("%w: credential should be scoped to a valid region %q, not %q", ErrScope, v.Region, info.scopeRegion)
	}
	if info.scopeRegion == "" {
		return fmt.Errorf("%w: empty region in credential scope", ErrScope)
	}
	return nil
}

// checkTime checks the request time against the allowed window: the clock
// skew, or for a presigned request with X-Amz-Expires its validity period.
func (v *Verifier) checkTime(info authInfo, query url.Values, amzDate string, reqTime time.Time) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	nowT := now().UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	if info.presigned && query.Has(qExpires) {
		es := query.Get(qExpires)
		secs, perr := strconv.ParseInt(es, 10, 64)
		if perr != nil || secs <= 0 || len(query[qExpires]) != 1 {
			return malformed("invalid %s %q", qExpires, es)
		}
		if time.Duration(secs)*time.Second > maxPresignTTL {
			return malformed("%s %d exceeds the maximum of %d seconds", qExpires, secs, int64(maxPresignTTL/time.Second))
		}
		if nowT.Before(reqTime.Add(-skew)) {
			return fmt.Errorf("%w: presigned request is not yet valid: %s is later than %s (%s + %s)", ErrExpired, amzDate, nowT.Add(skew).Format(amzDateFormat), nowT.Format(amzDateFormat), skew)
		}
		if exp := reqTime.Add(time.Duration(secs) * time.Second); nowT.After(exp) {
			return fmt.Errorf("%w: presigned request expired at %s (now %s)", ErrExpired, exp.Format(amzDateFormat), nowT.Format(amzDateFormat))
		}
		return nil
	}
	if d := nowT.Sub(reqTime); d > skew {
		return fmt.Errorf("%w: signature expired: %s is now earlier than %s (%s - %s)", ErrExpired, amzDate, nowT.Add(-skew).Format(amzDateFormat), nowT.Format(amzDateFormat), skew)
	} else if d < -skew {
		return fmt.Errorf("%w: signature not yet current: %s is still later than %s (%s + %s)", ErrExpired, amzDate, nowT.Add(skew).Format(amzDateFormat), nowT.Format(amzDateFormat), skew)
	}
	return nil
}

// payloadHash finds the payload hash of the string to sign: the
// X-Amz-Content-Sha256 header when present (it must then equal sha256(body)
// unless it is UNSIGNED-PAYLOAD), returned as header, else sha256(body) in
// hex, which it always writes to sum.
func payloadHash(headers headerIndex, body []byte, sum *[2 * sha256.Size]byte) (header string, err error) {
	raw := sha256.Sum256(body)
	hex.Encode(sum[:], raw[:])
	vals, ok := headers.get("x-amz-content-sha256")
	if !ok {
		return "", nil
	}
	if len(vals) != 1 {
		return "", malformed("multiple X-Amz-Content-Sha256 headers")
	}
	ph := strings.TrimSpace(vals[0])
	switch {
	case ph == unsignedPayload:
	case isLowerHex(ph, 64):
		if !equalConstantTime(ph, sum[:]) {
			return "", fmt.Errorf("%w: X-Amz-Content-Sha256 %s does not match the SHA-256 of the body (%s)", ErrSignatureMismatch, ph, sum[:])
		}
	default:
		return "", malformed("unsupported X-Amz-Content-Sha256 value %q", ph)
	}
	return ph, nil
}

// equalConstantTime reports whether s and b hold the same bytes, in time
// that depends on their lengths only.
func equalConstantTime(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(b); i++ {
		d |= s[i] ^ b[i]
	}
	return d == 0
}

// decodeHex32 decodes 64 lower-case hex characters (checked by the caller).
func decodeHex32(s string) (out [sha256.Size]byte) {
	val := func(c byte) byte {
		if c >= 'a' {
			return c - 'a' + 10
		}
		return c - '0'
	}
	for i := range out {
		out[i] = val(s[2*i])<<4 | val(s[2*i+1])
	}
	return out
}

// appendCanonicalRequest appends the canonical request of r to dst. The
// payload hash is payloadHeader if not empty, else sum.
func appendCanonicalRequest(dst []byte, r *http.Request, info authInfo, query url.Values, headers headerIndex, payloadHeader string, sum []byte) []byte {
	canonQuery := query
	if info.presigned {
		canonQuery = make(url.Values, len(query))
		for k, vs := range query {
			if k != qSignature {
				canonQuery[k] = vs
			}
		}
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}

	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	dst = appendEscapedPath(dst, uriPath(r.URL))
	dst = append(dst, '\n')
	dst = appendQuery(dst, canonQuery)
	dst = append(dst, '\n')
	for rest := info.signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		dst = append(dst, name...)
		dst = append(dst, ':')
		switch name {
		case "host":
			dst = append(dst, stripExcessSpaces(host)...)
		default:
			vals, _ := headers.get(name)
			if len(vals) == 0 && name == "content-length" && r.ContentLength > 0 {
				dst = strconv.AppendInt(dst, r.ContentLength, 10)
			}
			for i, val := range vals {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, strings.TrimSpace(stripExcessSpaces(val))...)
			}
		}
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, info.signedHeaders...)
	dst = append(dst, '\n')
	if payloadHeader != "" {
		return append(dst, payloadHeader...)
	}
	return append(dst, sum...)
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (authInfo, error) {
	var info authInfo
	h = strings.TrimSpace(h)
	alg, rest, ok := strings.Cut(h, " ")
	if !ok {
		if h == algorithm {
			return info, malformed("Authorization header has no Credential, SignedHeaders or Signature")
		}
		return info, malformed("unsupported Authorization header (want %s)", algorithm)
	}
	if alg != algorithm {
		return info, malformed("unsupported algorithm %q (want %s)", truncate(alg), algorithm)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for more := true; more; {
		var part string
		part, rest, more = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return info, malformed("Authorization component %q is not key=value", truncate(part))
		}
		switch k {
		case "Credential":
			if haveCred {
				return info, malformed("duplicate Credential in Authorization header")
			}
			cred, haveCred = val, true
		case "SignedHeaders":
			if haveSigned {
				return info, malformed("duplicate SignedHeaders in Authorization header")
			}
			signed, haveSigned = val, true
		case "Signature":
			if haveSig {
				return info, malformed("duplicate Signature in Authorization header")
			}
			sig, haveSig = val, true
		default:
			return info, malformed("unknown Authorization component %q", truncate(k))
		}
	}
	switch {
	case !haveCred:
		return info, malformed("Authorization header requires a Credential parameter")
	case !haveSigned:
		return info, malformed("Authorization header requires a SignedHeaders parameter")
	case !haveSig:
		return info, malformed("Authorization header requires a Signature parameter")
	}
	return fillInfo(cred, signed, sig, false)
}

func parsePresigned(q url.Values) (authInfo, error) {
	var info authInfo
	get := func(k string) (string, error) {
		vs, ok := q[k]
		if !ok {
			return "", malformed("presigned request requires the %s query parameter", k)
		}
		if len(vs) != 1 {
			return "", malformed("multiple %s query parameters", k)
		}
		return vs[0], nil
	}
	alg, err := get(qAlgorithm)
	if err != nil {
		return info, err
	}
	if alg != algorithm {
		return info, malformed("unsupported %s %q (want %s)", qAlgorithm, truncate(alg), algorithm)
	}
	cred, err := get(qCredential)
	if err != nil {
		return info, err
	}
	if _, err := get(qDate); err != nil {
		return info, err
	}
	signed, err := get(qSignedHeaders)
	if err != nil {
		return info, err
	}
	sig, err := get(qSignature)
	if err != nil {
		return info, err
	}
	return fillInfo(cred, signed, sig, true)
}

func fillInfo(cred, signed, sig string, presigned bool) (authInfo, error) {
	info := authInfo{presigned: presigned}
	// The last four '/'-separated parts are the scope; the access key id
	// is what comes before them, '/'s included.
	var scope [4]string
	rest := cred
	for i := 3; i >= 0; i-- {
		j := strings.LastIndexByte(rest, '/')
		if j < 0 {
			return info, malformed("Credential %q must be of the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request", truncate(cred))
		}
		scope[i], rest = rest[j+1:], rest[:j]
	}
	info.accessKeyID = rest
	info.scopeDate, info.scopeRegion, info.scopeService, info.scopeTerm = scope[0], scope[1], scope[2], scope[3]
	if info.accessKeyID == "" {
		return info, malformed("empty access key id in Credential")
	}
	if _, err := time.Parse(shortDateFormat, info.scopeDate); err != nil || len(info.scopeDate) != 8 {
		return info, malformed("invalid date %q in Credential scope", truncate(info.scopeDate))
	}

	if signed == "" {
		return info, malformed("empty SignedHeaders")
	}
	prev := ""
	for i, rest := 0, signed; ; i++ {
		name, after, more := strings.Cut(rest, ";")
		if !isHeaderName(name) {
			return info, malformed("invalid header name %q in SignedHeaders (must be non-empty lower-case tokens separated by ';')", truncate(name))
		}
		if i > 0 && prev >= name {
			return info, malformed("SignedHeaders must be sorted and free of duplicates")
		}
		if !more {
			break
		}
		prev, rest = name, after
	}
	info.signedHeaders = signed

	if !isLowerHex(sig, 64) {
		return info, malformed("Signature must be 64 lower-case hex characters")
	}
	info.signature = sig
	return info, nil
}

func parseAmzDate(s string) (time.Time, error) {
	if len(s) != len(amzDateFormat) {
		return time.Time{}, errors.New("bad length")
	}
	return time.Parse(amzDateFormat, s)
}

// headerIndex finds request headers by lower-case name. Header names as
// net/http's server reads them are canonical (X-Amz-Date), and then a name
// is looked up in the request's own map without copying it; a map with
// other spellings (made by hand) is indexed by lower-case name first, its
// spellings of one name merged.
type headerIndex struct {
	h     http.Header
	lower map[string][]string
}

func indexHeaders(h http.Header) headerIndex {
	for k := range h {
		if textproto.CanonicalMIMEHeaderKey(k) != k {
			return headerIndex{lower: lowerHeaders(h)}
		}
	}
	return headerIndex{h: h}
}

// get returns the values of the header named name (lower-case).
func (x headerIndex) get(name string) ([]string, bool) {
	if x.lower != nil {
		vs, ok := x.lower[name]
		return vs, ok
	}
	var buf [64]byte
	key := buf[:0]
	if len(name) > len(buf) {
		key = make([]byte, 0, len(name))
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		key = append(key, c)
		upper = c == '-'
	}
	vs, ok := x.h[string(key)]
	return vs, ok
}

// lowerHeaders indexes h by lower-case name.
func lowerHeaders(h http.Header) map[string][]string {
	m := make(map[string][]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		m[lk] = append(m[lk], vs...)
	}
	return m
}

// uriPath mirrors aws-sdk-go-v2 internal/v4.GetURIPath.
func uriPath(u *url.URL) string {
	var p string
	if u.Opaque != "" {
		opaque := u.Opaque
		if i := strings.Index(opaque, "?"); i >= 0 {
			opaque = opaque[:i]
		}
		opaque = strings.TrimPrefix(opaque, "//")
		if i := strings.Index(opaque, "/"); i >= 0 {
			p = opaque[i:]
		}
	} else {
		p = u.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// escapePath mirrors smithy-go httpbinding.EscapePath(path, false): every byte
// other than A-Z a-z 0-9 - . _ ~ and '/' is percent-encoded (upper-case hex).
func escapePath(p string) string {
	return string(appendEscapedPath(make([]byte, 0, len(p)+16), p))
}

// appendEscapedPath appends escapePath(p) to dst.
func appendEscapedPath(dst []byte, p string) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isUnreserved(c) || c == '/' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return dst
}

// encodeQuery mirrors aws-sdk-go-v2 internal/v4.EncodeQuery: names and values
// are encoded (space as %20), then pairs sorted by encoded name, then value.
func encodeQuery(q url.Values) string {
	return string(appendQuery(nil, q))
}

// appendQuery appends encodeQuery(q) to dst.
func appendQuery(dst []byte, q url.Values) []byte {
	if len(q) == 0 {
		return dst
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		ek := encodeQueryComponent(k)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, encodeQueryComponent(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p.k...)
		dst = append(dst, '=')
		dst = append(dst, p.v...)
	}
	return dst
}

func encodeQueryComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// stripExcessSpaces mirrors aws-sdk-go-v2 internal/v4.StripExcessSpaces: trims
// leading/trailing ' ' and collapses inner runs of ' ' to one.
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isHeaderName reports whether s is a non-empty lower-case HTTP token.
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// signs reports whether the SignedHeaders list signed names name.
func signs(signed, name string) bool {
	for rest := signed; rest != ""; {
		var n string
		n, rest, _ = strings.Cut(rest, ";")
		if n == name {
			return true
		}
	}
	return false
}

// truncate limits attacker-controlled strings echoed in error messages.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
