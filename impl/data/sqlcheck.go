package data

import (
	"errors"
	"strings"
	"unicode"
)

// Statement checks that sql is exactly one read statement and returns it without
// trailing semicolons. It knows PostgreSQL's quoting (strings, E” strings, quoted
// identifiers, dollar quotes) and comments (line, nested block), so a semicolon inside
// them is not a statement break. It is a first filter with clear messages; the database
// itself (read-only transaction, a role that can only read) is the boundary.
func Statement(sql string) (string, error) {
	end, err := statementEnd(sql)
	if err != nil {
		return "", err
	}
	stmt := strings.TrimSpace(sql[:end])
	if stmt == "" {
		return "", errors.New("the query is empty")
	}
	rest := sql[end:]
	for strings.HasPrefix(strings.TrimSpace(rest), ";") {
		rest = strings.TrimSpace(rest)[1:]
	}
	if tail, err := skipSpaceAndComments(rest); err != nil {
		return "", err
	} else if tail != "" {
		return "", errors.New("only one statement is allowed")
	}
	first := firstWord(stmt)
	switch first {
	case "SELECT", "WITH", "VALUES", "TABLE", "(":
		return stmt, nil
	}
	return "", errors.New("only read queries (SELECT, WITH, VALUES, TABLE) are allowed")
}

// statementEnd is the index of the first semicolon outside quotes and comments, or len.
func statementEnd(s string) (int, error) {
	return scanCode(s, func(i int) bool { return s[i] == ';' })
}

// scanCode calls stop with the index of each byte of s outside quotes and comments, in
// order, until stop says so; it returns that index, or len(s).
func scanCode(s string, stop func(i int) bool) (int, error) {
	return scan(s, stop, nil)
}

// scan is scanCode that also tells skipped, when not nil, of each quoted construct and
// comment it steps over, in order with the bytes given to stop: its kind (its first byte:
// a quote for a string, a double quote for a quoted identifier, $ for a dollar-quoted
// string, - or / for a comment) and where it starts and ends.
func scan(s string, stop func(i int) bool, skipped func(kind byte, start, end int)) (int, error) {
	skip := func(start, end int) {
		if skipped != nil {
			skipped(s[start], start, end)
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'':
			escapes := i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdent(s[i-2]))
			j, err := closeQuote(s, i+1, '\'', escapes)
			if err != nil {
				return 0, err
			}
			skip(i, j)
			i = j
		case c == '"':
			j, err := closeQuote(s, i+1, '"', false)
			if err != nil {
				return 0, err
			}
			skip(i, j)
			i = j
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				skip(i, len(s))
				return len(s), nil
			}
			skip(i, i+j+1)
			i += j + 1
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j, err := closeBlockComment(s, i)
			if err != nil {
				return 0, err
			}
			skip(i, j)
			i = j
		case c == '$' && (i == 0 || !isIdent(s[i-1])):
			if tag, ok := dollarTag(s[i:]); ok {
				j := strings.Index(s[i+len(tag):], tag)
				if j < 0 {
					return 0, errors.New("unterminated dollar-quoted string")
				}
				skip(i, i+len(tag)+j+len(tag))
				i += len(tag) + j + len(tag)
				continue
			}
			if stop(i) {
				return i, nil
			}
			i++
		default:
			if stop(i) {
				return i, nil
			}
			i++
		}
	}
	return len(s), nil
}

// isIdent reports bytes that continue an identifier; PostgreSQL allows $ inside one, so
// a$$x$ is not the start of a dollar-quoted string.
func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// closeQuote returns the index after the quote closing one opened before start; a doubled
// quote is an escaped quote, and with escapes a backslash escapes the next byte.
func closeQuote(s string, start int, q byte, escapes bool) (int, error) {
	for i := start; i < len(s); i++ {
		switch {
		case escapes && s[i] == '\\':
			i++
		case s[i] == q:
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, errors.New("unterminated quoted string or identifier")
}

// closeBlockComment returns the index after the block comment starting at i (they nest).
func closeBlockComment(s string, i int) (int, error) {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i, nil
			}
		default:
			i++
		}
	}
	return 0, errors.New("unterminated comment")
}

// dollarTag reads a dollar-quote opener ($$ or $tag$) at the start of s.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || (j > 1 && c >= '0' && c <= '9')) {
			return "", false
		}
	}
	return "", false
}

func skipSpaceAndComments(s string) (string, error) {
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		switch {
		case strings.HasPrefix(s, "--"):
			j := strings.IndexByte(s, '\n')
			if j < 0 {
				return "", nil
			}
			s = s[j+1:]
		case strings.HasPrefix(s, "/*"):
			j, err := closeBlockComment(s, 0)
			if err != nil {
				return "", err
			}
			s = s[j:]
		default:
			return s, nil
		}
	}
}

func firstWord(stmt string) string {
	s, _ := skipSpaceAndComments(stmt)
	if strings.HasPrefix(s, "(") {
		return "("
	}
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(s)
	}
	return strings.ToUpper(s[:end])
}
