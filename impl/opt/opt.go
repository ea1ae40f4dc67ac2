// Package opt reads the optional fields of generated request types (pointers).
package opt

// Val is *p, or T's zero value when p is nil.
func Val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Strings turns an optional list of string-like values into plain strings (nil stays nil).
func Strings[S ~string](in *[]S) *[]string {
	if in == nil {
		return nil
	}
	out := make([]string, len(*in))
	for i, v := range *in {
		out[i] = string(v)
	}
	return &out
}
