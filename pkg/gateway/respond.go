package gateway

import (
	"net/http"
	"unicode/utf8"
)

// answer writes a JSON answer. b is one line of JSON ending in a newline.
func (g *Gateway) answer(w http.ResponseWriter, code int, b []byte) int {
	w.Header()["Content-Type"] = g.jsonType
	w.WriteHeader(code)
	_, _ = w.Write(b) // a failed write means the sender left: nothing to tell it
	return code
}

// appendObject appends {"<key>":"<value>"} and a newline.
func appendObject(b []byte, key, value string) []byte {
	b = append(b, '{')
	b = appendString(b, key)
	b = append(b, ':')
	b = appendString(b, value)
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string literal: control characters and
// the line separators JavaScript chokes on are escaped, invalid UTF-8
// becomes U+FFFD, so the answer is always one valid line. It replaces
// encoding/json on the hot path, which would reflect and allocate.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
