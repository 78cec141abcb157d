package policy

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/passman-dev/passman/internal/secret"
)

// Limits and defaults for password rules.
const (
	minPasswordLength     = 8
	maxPasswordLength     = 1024
	defaultPasswordLength = 24

	// defaultSymbols leaves out quotes, backslash, '$', '`', space and
	// brackets, which shells and configuration files treat specially.
	defaultSymbols = "!#%+-.:=?@^_~"

	lowerLetters = "abcdefghijklmnopqrstuvwxyz"
	upperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits       = "0123456789"
)

// PasswordRules is the policy for passwords. Characters come from four
// classes: lowercase letters, uppercase letters, digits and the listed
// symbols, less the excluded characters. Only ASCII is ever generated.
type PasswordRules struct {
	// Length is the exact length of generated passwords and the least
	// length of typed ones, in characters: 8 to 1024. Default 24.
	Length int `json:"length"`

	// MinLower is how many lowercase letters a password needs at least.
	// Default 1.
	MinLower int `json:"min_lower"`

	// MinUpper is how many uppercase letters a password needs at least.
	// Default 1.
	MinUpper int `json:"min_upper"`

	// MinDigits is how many digits a password needs at least. Default 1.
	MinDigits int `json:"min_digits"`

	// MinSymbols is how many symbols a password needs at least. Default 1.
	MinSymbols int `json:"min_symbols"`

	// Symbols lists the symbols a password may hold: printable ASCII other
	// than letters, digits and space. Default "!#%+-.:=?@^_~".
	Symbols string `json:"symbols"`

	// Exclude lists characters never used, for example "0O1lI" to avoid
	// look-alikes. Default none.
	Exclude string `json:"exclude"`
}

// ensureDefaults fills the zero fields of r with their defaults.
func (r *PasswordRules) ensureDefaults() {
	if r.Length == 0 {
		r.Length = defaultPasswordLength
	}
	for _, n := range []*int{&r.MinLower, &r.MinUpper, &r.MinDigits, &r.MinSymbols} {
		if *n == 0 {
			*n = 1
		}
	}
	if r.Symbols == "" {
		r.Symbols = defaultSymbols
	}
}

// charClass is one kind of character a password draws from.
type charClass struct {
	field string // JSON name of the minimum count
	one   string // name of one character of the class
	many  string // name of several characters of the class
	min   int    // how many a password needs at least
	chars []byte // usable characters: allowed, not excluded, no repeats
}

// classes returns the four character classes of r in a fixed order.
func (r *PasswordRules) classes() []charClass {
	return []charClass{
		{"min_lower", "lowercase letter", "lowercase letters", r.MinLower,
			r.usable(lowerLetters)},
		{"min_upper", "uppercase letter", "uppercase letters", r.MinUpper,
			r.usable(upperLetters)},
		{"min_digits", "digit", "digits", r.MinDigits, r.usable(digits)},
		{"min_symbols", "symbol", "symbols", r.MinSymbols, r.usable(r.Symbols)},
	}
}

// usable returns the ASCII characters of allowed that r does not exclude,
// each once.
func (r *PasswordRules) usable(allowed string) []byte {
	var seen [utf8.RuneSelf]bool
	var out []byte
	for i := range len(allowed) {
		c := allowed[i]
		if c >= utf8.RuneSelf || seen[c] || strings.IndexByte(r.Exclude, c) >= 0 {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// problems lists what makes r invalid or unsatisfiable.
func (r *PasswordRules) problems() []string {
	var ps []string
	if r.Length < minPasswordLength || r.Length > maxPasswordLength {
		ps = append(ps, fmt.Sprintf(
			"password length %d is outside %d to %d; choose a length in that range",
			r.Length, minPasswordLength, maxPasswordLength))
	}
	ps = append(ps, symbolProblems(r.Symbols)...)
	ps = append(ps, excludeProblems(r.Exclude)...)
	return append(ps, r.countProblems()...)
}

// countProblems checks the minimum counts against the length and against
// the characters left in each class.
func (r *PasswordRules) countProblems() []string {
	var ps []string
	sum, usable := 0, 0
	for _, c := range r.classes() {
		usable += len(c.chars)
		switch {
		case c.min < 0:
			ps = append(ps, fmt.Sprintf("%s is %d; use 0 or more", c.field, c.min))
		case c.min > 0 && len(c.chars) == 0:
			ps = append(ps, r.emptyClassProblem(c))
		}
		// Capping each count keeps the sum from overflowing.
		sum += min(max(c.min, 0), math.MaxInt/8)
	}
	if sum > r.Length {
		ps = append(ps, fmt.Sprintf("password length %d is shorter than the %d characters "+
			"the minimum counts require; raise length or lower the min_ counts",
			r.Length, sum))
	}
	if usable == 0 {
		ps = append(ps, "no character is left to build a password from; exclude fewer")
	}
	return ps
}

// emptyClassProblem explains why class c, which has a minimum count, has no
// usable character.
func (r *PasswordRules) emptyClassProblem(c charClass) string {
	if c.field == "min_symbols" && r.Symbols == "" {
		return fmt.Sprintf("min_symbols is %d but symbols is empty; "+
			"list the allowed symbols or set min_symbols to 0", c.min)
	}
	return fmt.Sprintf("%s is %d but exclude removes every allowed %s; "+
		"exclude fewer characters or set %s to 0", c.field, c.min, c.one, c.field)
}

// symbolProblems checks that every symbol is printable ASCII and neither a
// letter, a digit nor a space.
func symbolProblems(symbols string) []string {
	for _, c := range symbols {
		if c <= ' ' || c > '~' {
			return []string{fmt.Sprintf("symbols holds %q; use printable ASCII "+
				"characters other than space", c)}
		}
		if isASCIILetter(c) || isASCIIDigit(c) {
			return []string{fmt.Sprintf("symbols holds %q; letters and digits "+
				"have their own classes, list only symbols", c)}
		}
	}
	return nil
}

// excludeProblems checks that every excluded character is printable ASCII
// other than space, the only characters a password could draw from.
func excludeProblems(exclude string) []string {
	for _, c := range exclude {
		if c <= ' ' || c > '~' {
			return []string{fmt.Sprintf("exclude holds %q, which is never used "+
				"anyway; list only printable ASCII characters other than space", c)}
		}
	}
	return nil
}

// generate returns a random password that follows r, which must be valid:
// the minimum count of each class first, then characters from every class,
// all shuffled together.
func (r *PasswordRules) generate() secret.Value {
	pw := make([]byte, 0, r.Length)
	var all []byte
	for _, c := range r.classes() {
		for range c.min {
			pw = append(pw, c.chars[randIndex(len(c.chars))])
		}
		all = append(all, c.chars...)
	}
	for len(pw) < r.Length {
		pw = append(pw, all[randIndex(len(all))])
	}
	shuffle(pw)

	v := secret.New(pw)
	clear(pw)
	return v
}

// check lists the ways pw breaks r. It walks the bytes of pw without
// converting them to a string, so that no extra copy of the secret is left
// in memory.
func (r *PasswordRules) check(pw []byte) []string {
	var vs []string
	if utf8.RuneCount(pw) < r.Length {
		vs = append(vs, fmt.Sprintf(
			"password is shorter than the %d characters the policy requires", r.Length))
	}
	classes := r.classes()
	counts, excluded, foreign := countClasses(pw, classes, r.Exclude)
	for i, c := range classes {
		if counts[i] < c.min {
			vs = append(vs, fmt.Sprintf("password needs at least %d %s",
				c.min, plural(c.min, c.one, c.many)))
		}
	}
	if excluded {
		vs = append(vs, "password contains a character the policy excludes")
	}
	if foreign {
		vs = append(vs, "password contains a character that is not a letter, "+
			"a digit or one of the allowed symbols")
	}
	return vs
}

// countClasses counts the characters of pw in each class, and reports
// whether pw holds an excluded character or one outside every class.
func countClasses(pw []byte, classes []charClass, exclude string) (
	counts []int, excluded, foreign bool) {
	counts = make([]int, len(classes))
	for i := 0; i < len(pw); {
		c, size := utf8.DecodeRune(pw[i:])
		i += size
		if c < utf8.RuneSelf && strings.ContainsRune(exclude, c) {
			excluded = true
			continue
		}
		k := classOf(classes, c)
		if k < 0 {
			foreign = true
			continue
		}
		counts[k]++
	}
	return counts, excluded, foreign
}

// classOf returns the index of the class holding c, or -1.
func classOf(classes []charClass, c rune) int {
	if c >= utf8.RuneSelf {
		return -1
	}
	for i, cl := range classes {
		if bytes.IndexByte(cl.chars, byte(c)) >= 0 {
			return i
		}
	}
	return -1
}
