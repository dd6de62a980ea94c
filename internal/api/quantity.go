package api

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Quantities follow the Kubernetes syntax that OpenFaaS passes through:
// a decimal number and an optional suffix, binary (Ki Mi Gi Ti Pi Ei),
// decimal (k M G T P E) or milli (m).
var suffixes = []struct {
	s string
	f *big.Rat
}{
	{"Ki", pow(1024, 1)}, {"Mi", pow(1024, 2)}, {"Gi", pow(1024, 3)}, {"Ti", pow(1024, 4)}, {"Pi", pow(1024, 5)}, {"Ei", pow(1024, 6)},
	{"k", pow(1000, 1)}, {"M", pow(1000, 2)}, {"G", pow(1000, 3)}, {"T", pow(1000, 4)}, {"P", pow(1000, 5)}, {"E", pow(1000, 6)},
	{"m", big.NewRat(1, 1000)},
}

func pow(base, exp int64) *big.Rat {
	r := big.NewRat(1, 1)
	for range exp {
		r.Mul(r, big.NewRat(base, 1))
	}
	return r
}

var errQuantity = errors.New("not a quantity: use a number with an optional suffix such as 128Mi, 1G or 500m")

// parseQuantity returns the exact value of s.
func parseQuantity(s string) (*big.Rat, error) {
	num, factor := s, big.NewRat(1, 1)
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf.s) {
			num, factor = strings.TrimSuffix(s, suf.s), suf.f
			break
		}
	}
	if num == "" || len(num) > 30 {
		return nil, errQuantity
	}
	dot := false
	for i := 0; i < len(num); i++ {
		switch c := num[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return nil, errQuantity
		}
	}
	if num == "." {
		return nil, errQuantity
	}
	v, ok := new(big.Rat).SetString(num)
	if !ok {
		return nil, errQuantity
	}
	return v.Mul(v, factor), nil
}

// ceil rounds r up to an int64, failing on overflow.
func ceil(r *big.Rat) (int64, error) {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() || q.Int64() > math.MaxInt64/2 {
		return 0, errors.New("quantity is too large")
	}
	return q.Int64(), nil
}

// ParseMemory parses a memory quantity ("128Mi", "1G", "512") into bytes,
// rounding up.
func ParseMemory(s string) (int64, error) {
	v, err := parseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	n, err := ceil(v)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return n, nil
}

// ParseCPU parses a CPU quantity ("500m", "0.5", "2") into millicores,
// rounding up.
func ParseCPU(s string) (int64, error) {
	v, err := parseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	n, err := ceil(v.Mul(v, big.NewRat(1000, 1)))
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return n, nil
}

// FormatBytes renders n in binary units for messages ("1.5Gi").
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".") + []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}[i]
}
