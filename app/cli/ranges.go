package cli

import (
	"fmt"
	"math"
)

// Every numeric flag is checked against its range before any work is
// done, and the message gives the range: a runaway --frames or a
// --module-pixels that exhausts memory must be refused, not attempted.

// intIn checks lo ≤ v ≤ hi; why says what the range means.
func intIn(flag string, v, lo, hi int, why string) error {
	if v < lo || v > hi {
		if why != "" {
			why = ": " + why
		}
		return usageErrorf("%s %d is outside %d..%d%s", flag, v, lo, hi, why)
	}
	return nil
}

// intOneOf checks that v is one of the allowed values.
func intOneOf(flag string, v int, allowed ...int) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return usageErrorf("%s %d is not allowed: use %s", flag, v, joinInts(allowed))
}

// floatIn checks lo < v ≤ hi for a finite v (NaN and ±Inf compare false
// with everything, so they are refused explicitly).
func floatIn(flag string, v, lo, hi float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= lo || v > hi {
		return usageErrorf("%s %v is outside %g..%g (more than %g, at most %g)", flag, v, lo, hi, lo, hi)
	}
	return nil
}

func joinInts(v []int) string {
	s := ""
	for i, x := range v {
		switch {
		case i == 0:
		case i == len(v)-1:
			s += " or "
		default:
			s += ", "
		}
		s += fmt.Sprint(x)
	}
	return s
}

// intIn64 is intIn for int64 flags (sizes in bytes).
func intIn64(flag string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return usageErrorf("%s %d is outside %d..%d", flag, v, lo, hi)
	}
	return nil
}
