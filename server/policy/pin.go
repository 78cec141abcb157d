package policy

import (
	"fmt"

	"github.com/passman-dev/passman/internal/secret"
)

// Limits and defaults for PIN rules.
const (
	minPINLength       = 4
	maxPINLength       = 64
	defaultPINLength   = 6
	defaultPINRepeat   = 1
	defaultPINSequence = 2
)

// PINRules is the policy for PIN codes: digits only, of a fixed length, with
// no long repeats of one digit and no long ascending or descending
// sequences.
type PINRules struct {
	// Length is the exact number of digits: 4 to 64. Default 6.
	Length int `json:"length"`

	// MaxRepeat is the longest allowed stretch of one digit repeated; 1
	// forbids "11". At least 1. Default 1.
	MaxRepeat int `json:"max_repeat"`

	// MaxRun is the longest allowed sequence of digits that each go up by
	// exactly one, or each go down by exactly one, counted in digits: 2
	// forbids "123" and "987", 1 also forbids "12" and "21". There is no
	// wrapping from 9 to 0. At least 1. Default 2.
	MaxRun int `json:"max_run"`
}

// ensureDefaults fills the zero fields of r with their defaults.
func (r *PINRules) ensureDefaults() {
	if r.Length == 0 {
		r.Length = defaultPINLength
	}
	if r.MaxRepeat == 0 {
		r.MaxRepeat = defaultPINRepeat
	}
	if r.MaxRun == 0 {
		r.MaxRun = defaultPINSequence
	}
}

// problems lists what makes r invalid. Any valid r can be met: after any
// digit at most three digits are ruled out (the same one, the next and the
// previous), which leaves seven to choose from.
func (r *PINRules) problems() []string {
	var ps []string
	if r.Length < minPINLength || r.Length > maxPINLength {
		ps = append(ps, fmt.Sprintf(
			"pin length %d is outside %d to %d; choose a length in that range",
			r.Length, minPINLength, maxPINLength))
	}
	if r.MaxRepeat < 1 {
		ps = append(ps, fmt.Sprintf(
			"pin max_repeat %d is below 1; use 1 to forbid any repeated digit", r.MaxRepeat))
	}
	if r.MaxRun < 1 {
		ps = append(ps, fmt.Sprintf(
			"pin max_run %d is below 1; use 1 to forbid any two digits in sequence", r.MaxRun))
	}
	return ps
}

// streak describes a digit string at its last digit: how many times in a
// row that digit appears, and how long the ascending and descending
// sequences ending there are.
type streak struct {
	repeat, up, down int
}

// firstStreak is the streak of a single digit.
var firstStreak = streak{repeat: 1, up: 1, down: 1}

// next returns the streak after d follows prev. Only digits form sequences.
func (s streak) next(prev, d byte) streak {
	n := firstStreak
	switch {
	case d == prev:
		n.repeat = s.repeat + 1
	case !isASCIIDigit(rune(prev)) || !isASCIIDigit(rune(d)):
	case d == prev+1:
		n.up = s.up + 1
	case d == prev-1:
		n.down = s.down + 1
	}
	return n
}

// generate returns a random PIN that follows r, which must be valid. Each
// digit is drawn uniformly from those that keep the PIN within the limits.
func (r *PINRules) generate() secret.Value {
	pin := make([]byte, 0, r.Length)
	var s streak
	var allowed [10]byte
	for len(pin) < r.Length {
		choices := r.nextDigits(pin, s, allowed[:0])
		d := choices[randIndex(len(choices))]
		if len(pin) == 0 {
			s = firstStreak
		} else {
			s = s.next(pin[len(pin)-1], d)
		}
		pin = append(pin, d)
	}

	v := secret.New(pin)
	clear(pin)
	clear(allowed[:])
	return v
}

// nextDigits appends to buf the digits that may follow pin, whose streak is
// s, and returns it.
func (r *PINRules) nextDigits(pin []byte, s streak, buf []byte) []byte {
	for d := byte('0'); d <= '9'; d++ {
		if len(pin) == 0 || r.allows(s.next(pin[len(pin)-1], d)) {
			buf = append(buf, d)
		}
	}
	return buf
}

// allows reports whether streak s is within the limits of r.
func (r *PINRules) allows(s streak) bool {
	return s.repeat <= r.MaxRepeat && s.up <= r.MaxRun && s.down <= r.MaxRun
}

// check lists the ways pin breaks r.
func (r *PINRules) check(pin []byte) []string {
	var vs []string
	if len(pin) != r.Length {
		vs = append(vs, fmt.Sprintf("pin must be exactly %d digits long", r.Length))
	}
	nonDigit, repeat, run := false, 0, 0
	s := firstStreak
	for i, c := range pin {
		if !isASCIIDigit(rune(c)) {
			nonDigit = true
		}
		if i > 0 {
			s = s.next(pin[i-1], c)
		}
		repeat, run = max(repeat, s.repeat), max(run, s.up, s.down)
	}
	if nonDigit {
		vs = append(vs, "pin must hold digits only")
	}
	if repeat > r.MaxRepeat {
		vs = append(vs, fmt.Sprintf("pin has more than %d of the same digit in a row",
			r.MaxRepeat))
	}
	if run > r.MaxRun {
		vs = append(vs, fmt.Sprintf(
			"pin has an ascending or descending sequence longer than %d %s",
			r.MaxRun, plural(r.MaxRun, "digit", "digits")))
	}
	return vs
}
