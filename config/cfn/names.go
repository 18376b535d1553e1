package cfn

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

// Physical names and ids of resources that do not name themselves are
// deterministic: the same stack name and logical id always give the same
// name, so that a restart finds the tables it created.

const (
	upperAlnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerAlnum = "0123456789abcdefghijklmnopqrstuvwxyz"
)

// token is n characters of alphabet drawn from a hash of parts.
func token(alphabet string, n int, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	out := make([]byte, n)
	for i := range out {
		// 4 bytes of the hash per character: n is at most 8.
		v := binary.BigEndian.Uint32(h[(i*4)%29:])
		out[i] = alphabet[v%uint32(len(alphabet))]
	}
	return string(out)
}

// generatedName is CloudFormation's name for a resource that has none:
// {StackName}-{LogicalId}-{SUFFIX}, the first two parts shortened to fit
// max characters.
func generatedName(stack, logical string, max int) string {
	suffix := token(upperAlnum, 8, "name", stack, logical) + token(upperAlnum, 5, "name2", stack, logical)
	budget := max - len(suffix) - 2
	if budget < 2 {
		return suffix[:min(len(suffix), max)]
	}
	s, l := stack, logical
	if len(s)+len(l) > budget {
		half := budget / 2
		switch {
		case len(s) <= half:
			l = l[:budget-len(s)]
		case len(l) <= budget-half:
			s = s[:budget-len(l)]
		default:
			s, l = s[:half], l[:budget-half]
		}
	}
	return s + "-" + l + "-" + suffix
}

// shortID is an API Gateway style id: n lowercase letters and digits.
func shortID(kind, stack, logical string, n int) string {
	return token(lowerAlnum, n, kind, stack, logical)
}

// stableUUID is a version-4-shaped UUID derived from parts.
func stableUUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// StackNameFrom makes a valid stack name of s (a directory's name): letters,
// digits and '-', starting with a letter, at most 128 characters.
func StackNameFrom(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "switchboard"
	}
	if c := out[0]; c >= '0' && c <= '9' {
		out = "stack-" + out
	}
	return out[:min(len(out), 128)]
}

// validStackName is CloudFormation's rule.
func validStackName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && (c >= '0' && c <= '9' || c == '-'))
		if !ok {
			return false
		}
	}
	return true
}
